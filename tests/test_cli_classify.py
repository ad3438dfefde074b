"""``mlnews classify`` end to end: formats, ids, top-k, --min-score, --strict and row accounting."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infer_helpers import LABELS, labelled_headlines, tiny_tfidf_dir, tiny_transformer_dir
from mlnews.cli import main

SUMMARY = re.compile(r"rows in (\d+); rows out (\d+); rows skipped (\d+)")


@pytest.fixture(scope="module")
def tfidf(tmp_path_factory) -> Path:
    return tiny_tfidf_dir(tmp_path_factory.mktemp("m") / "tfidf")


@pytest.fixture(scope="module")
def transformer(tmp_path_factory) -> Path:
    return tiny_transformer_dir(tmp_path_factory.mktemp("m") / "bert")


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def summary(err: str) -> tuple[int, int, int]:
    m = SUMMARY.search(err)
    assert m, err
    n_in, n_out, n_skip = map(int, m.groups())
    assert n_in == n_out + n_skip
    return n_in, n_out, n_skip


def test_jsonl_to_stdout_with_ids_topk_and_skipped_rows(tfidf: Path, tmp_path: Path, capsys):
    data = labelled_headlines()
    path = tmp_path / "h.jsonl"
    lines = [json.dumps({"title": t, "gold": lab, "uid": f"u{i}"}, ensure_ascii=False) for i, (t, lab) in enumerate(data)]
    lines.insert(3, "{broken")
    lines.insert(7, json.dumps({"uid": "no-title"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, out, err = run(
        ["classify", "-m", str(tfidf), str(path), "--text-field", "title", "--id-field", "uid", "--top-k", "2", "--batch-size", "4"],
        capsys,
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == [f"u{i}" for i in range(len(data))]  # input order kept
    assert [r["text"] for r in rows] == [t for t, _ in data]
    assert all(r["label"] in LABELS and len(r["top_k"]) == 2 and r["top_k"][0]["label"] == r["label"] for r in rows)
    accuracy = sum(r["label"] == lab for r, (_, lab) in zip(rows, data)) / len(data)
    assert accuracy >= 0.9  # the model was fit on these headlines
    assert summary(err) == (len(data) + 2, len(data), 2)
    assert f"{path}:4: malformed JSON" in err and f"{path}:8: missing field 'title'" in err


def test_csv_output_min_score_and_no_text(tfidf: Path, tmp_path: Path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("Курс рубля упал на бирже\n\nСпартак обыграл Зенит\n", encoding="utf-8")
    out_path = tmp_path / "out.csv"
    code, out, err = run(
        ["classify", "-m", str(tfidf), str(src), "-o", str(out_path), "--min-score", "0.999", "--no-text"], capsys
    )
    assert code == 0 and out == ""
    rows = list(csv.DictReader(out_path.open(encoding="utf-8")))
    assert list(rows[0]) == ["id", "label", "score"]
    assert [r["id"] for r in rows] == [f"{src}:1", f"{src}:3"]
    assert all(r["label"] == "" and 0 < float(r["score"]) < 0.999 for r in rows)  # below threshold: kept, label empty
    assert "below --min-score 2" in err and "blank lines ignored 1" in err
    assert summary(err) == (2, 2, 0)


def test_strict_stops_at_the_first_bad_row_and_writes_nothing(tfidf: Path, tmp_path: Path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "хорошо"}\n{"text": ""}\n', encoding="utf-8")
    out_path = tmp_path / "out.jsonl"
    code, out, err = run(["classify", "-m", str(tfidf), str(src), "-o", str(out_path), "--strict"], capsys)
    assert code == 2
    assert err.strip() == f"mlnews: error: {src}:2: empty field 'text' (--strict)"
    assert not out_path.exists()


def test_bad_arguments_are_one_line_errors(tfidf: Path, tmp_path: Path, capsys):
    code, _, err = run(["classify", "-m", str(tfidf), str(tmp_path / "nope.jsonl")], capsys)
    assert code == 2 and err.strip() == f"mlnews: error: {tmp_path / 'nope.jsonl'}: no such file or directory"
    src = tmp_path / "in.csv"
    src.write_text("headline\nx\n", encoding="utf-8")
    code, _, err = run(["classify", "-m", str(tfidf), str(src)], capsys)
    assert code == 2 and "header has no column 'text'" in err and "Traceback" not in err
    code, _, err = run(["classify", "-m", str(tmp_path), str(src)], capsys)
    assert code == 2 and "mlnews.json" in err


def test_transformer_and_onnx_backends_agree_on_the_cli(transformer: Path, tmp_path: Path, capsys):
    from mlnews.infer.onnx import export_onnx

    onnx_dir = tmp_path / "onnx"
    export_onnx(transformer, onnx_dir, int8=True)
    capsys.readouterr()  # drop the export's own loading output
    src = tmp_path / "in.txt"
    texts = [t for t, _ in labelled_headlines()] * 5
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    labels = {}
    for name, model in (("torch", transformer), ("onnx", onnx_dir)):
        code, out, err = run(["classify", "-m", str(model), str(src), "--batch-size", "7", "-q"], capsys)
        assert code == 0 and err == ""
        labels[name] = [json.loads(line)["label"] for line in out.splitlines()]
    assert len(labels["torch"]) == len(texts)
    agree = sum(a == b for a, b in zip(labels["torch"], labels["onnx"])) / len(texts)
    assert agree >= 0.9
    gold = [lab for _, lab in labelled_headlines()] * 5
    assert sum(a == b for a, b in zip(labels["torch"], gold)) / len(gold) >= 0.8


def test_page_dumps_and_directories(tfidf: Path, tmp_path: Path, capsys):
    pytest.importorskip("mlnews.ingest.page", reason="page dump reader (mlnews.ingest.page) not available")
    from mlnews.ingest import read_document

    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "one.txt").write_text(
        "Центробанк снизил ключевую ставку\n"
        "Регулятор объяснил решение замедлением инфляции.\n"
        "Решение вступает в силу с понедельника. Аналитики ожидали такого шага.\n",
        encoding="utf-8",
    )
    (pages / "notes.json").write_text("{}", encoding="utf-8")
    art = read_document(str(pages / "one.txt"))
    code, out, err = run(["classify", "-m", str(tfidf), str(pages)], capsys)
    assert f"not a page file, not read: {pages / 'notes.json'}" in err
    assert "non-page files in directories not read 1" in err
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["id"] == f"{pages / 'one.txt'}:article" and rows[0]["text"] == art.title
    assert [r["id"] for r in rows[1:]] == [f"{pages / 'one.txt'}:headline:{n}" for n in range(1, len(art.headlines) + 1)]
    assert summary(err)[1] == 1 + len(art.headlines)


def test_seed_page_article_and_sidebar_headlines(tfidf: Path, seed_page: Path, capsys):
    pytest.importorskip("mlnews.ingest.page", reason="page dump reader (mlnews.ingest.page) not available")
    from mlnews.ingest.page import read_page

    art = read_page(seed_page)
    code, out, err = run(["classify", "-m", str(tfidf), str(seed_page), "--format", "page"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 1 + len(art.headlines) and len(art.headlines) > 0
    assert [r["text"] for r in rows[1:]] == [h.text for h in art.headlines]


def test_stdin_in_a_real_process(tfidf: Path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "mlnews", "classify", "-m", str(tfidf), "-"],
        input="Госдума приняла закон\nДинамо Київ перемогло Шахтар\n".encode(),
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["id"] for r in rows] == ["<stdin>:1", "<stdin>:2"]
    assert [r["label"] for r in rows] == ["politics", "sports"]
    err = proc.stderr.decode()
    assert summary(err) == (2, 2, 0) and "\x1b[" not in err  # no progress bar when stderr is not a terminal


# --- hostile input and faults (issue #15) --------------------------------------------------------


def test_lone_surrogate_escape_is_classified_as_replacement_character(tfidf: Path, tmp_path: Path, capsys):
    src = tmp_path / "s.jsonl"
    src.write_text('{"text": "Курс \\ud800 рубля упал"}\n{"text": "Динамо Київ перемогло Шахтар"}\n', encoding="utf-8")
    code, out, err = run(["classify", "-m", str(tfidf), str(src)], capsys)  # the record writer used to raise
    assert code == 0, err
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["Курс \ufffd рубля упал", "Динамо Київ перемогло Шахтар"]
    code, _, err = run(["classify", "-m", str(tfidf), str(src), "-o", str(tmp_path / "o.jsonl")], capsys)
    assert code == 0 and summary(err) == (2, 2, 0)
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows[0]["text"] == "Курс \ufffd рубля упал" and rows[0]["label"] == "economy"


@pytest.mark.parametrize("where", ["/proc/out.jsonl", "FILE/out.jsonl"])
def test_unwritable_output_is_a_one_line_error(tfidf: Path, tmp_path: Path, capsys, where):
    (tmp_path / "FILE").write_text("x", encoding="utf-8")
    (tmp_path / "in.txt").write_text("Курс рубля упал\n", encoding="utf-8")
    out = where if where.startswith("/") else str(tmp_path / where)
    code, _, err = run(["classify", "-m", str(tfidf), str(tmp_path / "in.txt"), "-o", out], capsys)
    assert code == 2 and re.fullmatch(rf"mlnews: error: {re.escape(out)}: cannot write here \(.+\); expected .+\n", err)


def _wait_for(pattern: str, folder: Path, proc: subprocess.Popen, timeout: float = 90.0) -> list[Path]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = sorted(folder.glob(pattern))
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {pattern} in {folder} (exit {proc.poll()})")


def test_kill_9_leaves_a_temp_that_the_next_run_sweeps(tfidf: Path, tmp_path: Path):
    import signal

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "mlnews", "classify", "-m", str(tfidf), "-", "-o", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)  # stdin stays open
    try:
        temps = _wait_for(".out.jsonl.*.tmp", tmp_path, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert all(t.exists() for t in temps) and not out.exists()
    again = subprocess.run(cmd, input="Госдума приняла закон\n".encode(), capture_output=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    assert json.loads(out.read_text(encoding="utf-8"))["label"] == "politics"
