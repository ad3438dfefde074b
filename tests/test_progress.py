"""mlnews.progress: rich bars with totals on a terminal, plain periodic lines otherwise, stopped timers."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from mlnews.progress import StageProgress, quiet_libraries

REPO = Path(__file__).resolve().parent.parent


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_plain_lines_when_not_a_terminal():
    out = _Pipe()
    with StageProgress("mlnews x", stream=out, interval=0) as p:
        p("read", 0, total=200)
        p("read", 50)
        p("read", 150)
        p("write", 10)
    lines = out.getvalue().splitlines()
    assert any(re.fullmatch(r"mlnews x: read: 50/200 rows \(25%\), [\d,]+ rows/s, [\d.]+s elapsed, ETA [\d.]+s", x)
               for x in lines), lines
    assert any(re.fullmatch(r"mlnews x: read: 200 rows in [\d.]+s \([\d,]+ rows/s\)", x) for x in lines), lines
    assert re.fullmatch(r"mlnews x: write: 10 rows in [\d.]+s \([\d,]+ rows/s\)", lines[-1])


def test_plain_lines_are_periodic_not_per_call():
    out = _Pipe()
    with StageProgress("mlnews x", stream=out, interval=3600) as p:
        for _ in range(1000):
            p("read", 1, total=1000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "mlnews x: read (1,000 rows) ..."  # the start, at once
    assert len(lines) == 2 and lines[1].startswith("mlnews x: read: 1,000 rows in ")  # then only the end


def test_a_finished_stage_stops_its_timer():
    p = StageProgress("x", stream=_Pipe(), enabled=False)
    p("first", 5)
    p("second", 1)  # starting the next stage ends the first
    first = p.stages["first"].seconds
    time.sleep(0.05)
    assert p.stages["first"].seconds == first and p.stages["first"].ended is not None
    assert p.stages["second"].ended is None
    p.close()
    assert p.stages["second"].ended is not None


def test_rich_bar_with_total_on_a_terminal():
    out = io.StringIO()
    with StageProgress("mlnews x", stream=out, tty=True) as p:
        p("classify", 0, total=400)
        p("classify", 100)
    text = out.getvalue()
    assert "classify" in text and "/400" in text and "%" in text  # count / total and percentage
    assert re.search(r"mlnews x: classify: 100 rows in [\d.]+s", text)  # the throughput line at the end


def test_quiet_disables_everything():
    out = _Pipe()
    with StageProgress("x", stream=out, enabled=False, interval=0) as p:
        p("a", 3, total=3)
    assert out.getvalue() == ""


def test_quiet_libraries_keeps_explicit_settings(monkeypatch):
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    quiet_libraries()
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info" and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"


def test_data_build_prints_plain_progress_to_stderr_only(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLNEWS_PROGRESS_INTERVAL": "0"}
    proc = subprocess.run([sys.executable, "-m", "mlnews", "data", "build", str(REPO / "configs/data/sample.yaml"),
                           "--out", str(tmp_path / "ds")], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    stages = re.findall(r"^mlnews data build: ([a-z ]+): [\d,]+ rows in ", proc.stderr, re.M)
    assert stages[0] == "scan" and stages[-1] == "write" and "weak labels" in stages
    assert re.search(r"write: [\d,]+/[\d,]+ rows \(\d+%\)", proc.stderr)  # a known total
    assert "mlnews data build" not in proc.stdout and "classification (sample)" in proc.stdout


def test_trainer_progress_goes_to_stderr_not_stdout(tmp_path, capsys):
    """hook_trainer: the Trainer's log dicts and tqdm bars are gone from stdout; steps, logs, eval on stderr."""
    import torch
    from transformers import BertForSequenceClassification, Trainer, TrainingArguments

    from infer_helpers import LABELS, labelled_headlines, tiny_transformer_dir
    from mlnews.progress import hook_trainer

    folder = tiny_transformer_dir(tmp_path / "m", train_steps=0)
    model = BertForSequenceClassification.from_pretrained(folder)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    rows = [dict(tok(t, truncation=True, max_length=16, padding="max_length"), labels=LABELS.index(lab))
            for t, lab in labelled_headlines()[:16]]
    data = [{k: torch.tensor(v) for k, v in r.items()} for r in rows]
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=6, per_device_train_batch_size=4,
                             logging_steps=2, eval_strategy="steps", eval_steps=3, report_to="none",
                             save_strategy="no", use_cpu=True)
    out = _Pipe()
    with StageProgress("mlnews train", stream=out, interval=0) as progress:
        trainer = hook_trainer(Trainer(model=model, args=args, train_dataset=data, eval_dataset=data[:8]), progress)
        trainer.train()
    stdout = capsys.readouterr().out
    assert "{'loss'" not in stdout and "'eval_loss'" not in stdout and "it/s" not in stdout
    text = out.getvalue()
    assert re.search(r"mlnews train: train: \d/6 steps \(\d+%\)", text)
    assert re.search(r"mlnews train: step 2/6: loss [\d.]+", text)
    assert re.search(r"mlnews train: step 3: validation loss [\d.]+", text)
    assert re.search(r"mlnews train: train: 6 steps in ", text)


def test_input_total_counts_rows_of_line_files(tmp_path):
    from mlnews.progress import input_total

    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n\n{"text": "y"}', encoding="utf-8")  # no final newline
    (tmp_path / "b.csv").write_text("text\nx\ny\nz\n", encoding="utf-8")
    assert input_total([(str(tmp_path / "a.jsonl"), "jsonl"), (str(tmp_path / "b.csv"), "csv")]) == 3 + 3
    assert input_total([(str(tmp_path / "a.jsonl"), "jsonl"), ("-", "jsonl")]) is None
    assert input_total([(str(tmp_path / "p.txt"), "page")]) is None


def test_single_steps_say_when_they_start_and_how_long_they_took():
    out = _Pipe()
    with StageProgress("mlnews export", stream=out, unit="steps", interval=3600) as p:
        p("export to ONNX", 0, total=1)
        p("export to ONNX", 1)
        p("check against torch", 0, total=1)
        p("check against torch", 1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "mlnews export: export to ONNX ..." and lines[2] == "mlnews export: check against torch ..."
    assert re.fullmatch(r"mlnews export: export to ONNX: done in [\d.]+s", lines[1])


def test_classify_over_a_file_shows_its_total_and_only_records_on_stdout(tmp_path):
    import json

    from infer_helpers import labelled_headlines, tiny_tfidf_dir

    model = tiny_tfidf_dir(tmp_path / "m")
    rows = [{"text": t} for t, _ in labelled_headlines()] * 3
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLNEWS_PROGRESS_INTERVAL": "0"}
    proc = subprocess.run([sys.executable, "-m", "mlnews", "classify", "-m", str(model), str(src), "--batch-size", "4"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    n = len(rows)
    assert f"mlnews classify: classify ({n} rows) ..." in proc.stderr
    assert re.search(rf"classify: \d+/{n} rows \(\d+%\), [\d,]+ rows/s, [\d.]+s elapsed, ETA", proc.stderr)
    assert re.search(rf"rows in {n}; rows out {n}; .* rows/s", proc.stderr)  # the final throughput line
    assert [json.loads(x)["text"] for x in proc.stdout.splitlines()] == [r["text"] for r in rows]


def test_export_is_not_silent(tmp_path):
    import pytest

    pytest.importorskip("onnxruntime")
    from infer_helpers import tiny_transformer_dir

    model = tiny_transformer_dir(tmp_path / "bert", train_steps=0)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "mlnews", "export", str(model), "--onnx", "--int8", "--out",
                           str(tmp_path / "onnx")], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    for step in ("export to ONNX", "quantise to int8", "check against torch"):
        assert f"mlnews export: {step} ..." in lines
        assert any(re.fullmatch(rf"mlnews export: {step}: done in [\d.]+s", x) for x in lines), lines
    assert proc.stdout == "" and "Loading weights" not in proc.stderr  # HF chatter silenced
