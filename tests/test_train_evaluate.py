"""``mlnews train`` / ``mlnews evaluate`` end to end on a tiny dataset (TF-IDF: seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import main
from test_train_tinybert import LABELS, build_tiny_dataset


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    data = build_tiny_dataset(root / "ds")
    cfg = root / "tfidf.yaml"
    cfg.write_text(f"task: classification\ndata: {{path: {data}}}\nmodel: {{kind: tfidf}}\ntrain: {{class_weights: balanced}}\n")
    with pytest.raises(SystemExit) as exc:
        main(["train", str(cfg), "--out", str(root / "model"), "tfidf.C=8"])
    assert exc.value.code == 0
    return {"data": data, "model": root / "model", "cfg": cfg}


def test_train_cli_writes_a_tfidf_model_folder(trained):
    model = trained["model"]
    names = {p.name for p in model.iterdir()}
    assert {"mlnews.json", "model.skops", "metrics.json", "confusion_matrix.png", "confusion_matrix.csv",
            "README.md", "train_config.yaml"} <= names
    assert "C: 8.0" in (model / "train_config.yaml").read_text()  # the override is in the resolved config
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["macro_f1"] >= 0.9  # keyword topics: measured 1.0


def test_evaluate_dataset_split_reproduces_training_metrics(trained, capsys):
    code, out, err = run_cli(["evaluate", str(trained["model"]), str(trained["data"]), "--split", "test"], capsys)
    assert code == 0, err
    ev = json.loads((trained["model"] / "eval-test" / "metrics.json").read_text())
    tr = json.loads((trained["model"] / "metrics.json").read_text())
    assert ev["n"] == tr["n"] and ev["macro_f1"] == tr["macro_f1"] and ev["per_lang"] == tr["per_lang"]
    assert ev["ece"] == tr["ece"] and ev["calibrated"] and ev["calibration"] == tr["calibration"]
    assert f"ECE {ev['ece']:.3f} (calibrated, T = {tr['calibration']['temperature']:.3f}" in err
    assert (trained["model"] / "eval-test" / "confusion_matrix.png").is_file()
    preds = (trained["model"] / "eval-test" / "predictions.jsonl").read_text().splitlines()
    assert len(preds) == ev["n"] and json.loads(preds[0])["pred"] in LABELS


def test_evaluate_jsonl_counts_labels_outside_the_model(trained, tmp_path, capsys):
    rows = [
        {"title": "Рубль и банк снова", "topic": "economy", "lang": "ru"},
        {"title": "Матч и гол вчера", "topic": "sports", "lang": "ru"},
        {"title": "Закон про депутат", "topic": "politics", "lang": "uk"},
        {"title": "Погода на неделю", "topic": "weather", "lang": "ru"},
        {"title": "Без метки"},
    ]
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out_dir = tmp_path / "ev"
    code, out, err = run_cli(["evaluate", str(trained["model"]), str(path), "--label-field", "topic",
                              "--text-field", "title", "--out", str(out_dir)], capsys)
    assert code == 0, err
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["rows_read"] == 5 and m["rows_scored"] == 3
    assert m["skipped"] == {"label_not_in_model": 1, "no_label": 1}
    assert m["labels_outside_model"] == {"weather": 1}
    assert "skipped 2 of 5 rows" in err and "weather (1)" in err


def test_evaluate_errors_are_one_line(trained, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "label": "economy"}\n{not json\n', encoding="utf-8")
    code, _, err = run_cli(["evaluate", str(trained["model"]), str(bad)], capsys)
    assert code == 2 and f"{bad}:2: malformed JSON" in err and len(err.strip().splitlines()) == 1

    code, _, err = run_cli(["evaluate", str(tmp_path), str(bad)], capsys)
    assert code == 2 and "not an mlnews model folder" in err

    wrong_field = tmp_path / "wf.jsonl"
    wrong_field.write_text('{"headline": "x", "label": "economy"}\n', encoding="utf-8")
    code, _, err = run_cli(["evaluate", str(trained["model"]), str(wrong_field)], capsys)
    assert code == 2 and "wf.jsonl:1: missing field 'text'" in err

    code, _, err = run_cli(["evaluate", str(trained["model"]), str(trained["data"]), "--split", "dev"], capsys)
    assert code == 2 and "split 'dev' not found" in err


def test_train_cli_config_errors_are_one_line(trained, tmp_path, capsys):
    code, _, err = run_cli(["train", str(trained["cfg"]), "--out", str(tmp_path / "x"), "train.epochs=lots"], capsys)
    assert code == 2 and "train.epochs: expected a number, got 'lots'" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["train", str(trained["cfg"]), "--out", str(trained["model"])], capsys)
    assert code == 2 and "folder is not empty" in err
