"""Model folders that work outside mlnews: the card (front matter, facts of this run, no absolute paths),
a usage snippet that runs as written with plain transformers / onnxruntime + tokenizers / skops and gives
the labels ``Classifier`` gives, the tokenizer's max length, file modes."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
import yaml

from mlnews.config import from_dict
from mlnews.infer.classifier import Classifier
from mlnews.train.card import base_model_id
from mlnews.train.classifier import train_from_config
from mlnews.train.config import ClassifierConfig
from test_train_classifier import make_cfg, tiny  # noqa: F401  (the module fixture)
from test_train_tinybert import synthetic_rows

PREFIX = "query: "


def _front_matter(card: str) -> dict:
    m = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert m, card[:200]
    return yaml.safe_load(m.group(1))


def _plain_snippet(card: str) -> str:
    """The code block of the "Without mlnews" section."""
    section = card.split("Without mlnews", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _run_snippet(code: str, cwd: Path, monkeypatch, examples: list[tuple[str, str, str]] | None = None) -> dict:
    """Execute the snippet from ``cwd`` (as a user would, next to the folder); optionally on other examples."""
    if examples is not None:
        code = re.sub(r"examples = \[.*?\n\]\n", "examples = " + repr(examples) + "\n", code, count=1, flags=re.S)
    monkeypatch.chdir(cwd)
    ns: dict = {"__name__": "__card__"}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - the card's own snippet, as written
    return ns


def _classifier_labels(folder: Path, examples) -> list[str]:
    clf = Classifier.load(folder)
    return [p["label"] for p in clf.predict([e[0] for e in examples], leads=[e[1] for e in examples],
                                            bodies=[e[2] for e in examples])]


VARIED = [(r["text"], r["lead"], r["body"]) for r in synthetic_rows(12, seed=5)]


def _assert_no_absolute_paths(card: str, *roots: Path) -> None:
    for root in roots:
        assert str(root) not in card
    assert not re.search(r"(?<![\w.])/(tmp|home|root|work)/", card)


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):  # noqa: F811
    old = os.umask(0o022)
    try:
        root = tmp_path_factory.mktemp("card")
        cfg = make_cfg(tiny, max_steps=150, eval_steps=50, learning_rate=3e-3)
        cfg.model.input_prefix = PREFIX
        cfg.data.body_chars = 40
        out = train_from_config(cfg, root / "tiny-e5")
    finally:
        os.umask(old)
    return out


def test_card_front_matter_and_facts_of_this_run(trained: Path, tiny):  # noqa: F811
    card = (trained / "README.md").read_text(encoding="utf-8")
    meta = _front_matter(card)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert meta["language"] == ["ru", "uk"] and meta["license"] == "mit"
    assert meta["pipeline_tag"] == "text-classification" and meta["library_name"] == "transformers"
    assert "mlnews" in meta["tags"] and meta["datasets"] == [tiny["data"].name]
    result = meta["model-index"][0]["results"][0]
    assert meta["model-index"][0]["name"] == "tiny-e5" and result["dataset"]["split"] == "test"
    values = {m["type"]: m["value"] for m in result["metrics"]}
    assert values == {"accuracy": round(metrics["accuracy"], 4), "f1": round(metrics["macro_f1"], 4)}
    assert "base_model" not in meta  # a local folder has no hub id
    manifest = json.loads((trained / "mlnews.json").read_text())
    assert manifest["input"]["prefix"] == PREFIX
    assert f"prefixed with `{PREFIX!r}`" in card and "| input prefix | 'query: ' |" in card
    assert "first 40 characters of the body" in card and "at most 32 tokens" in card and "truncation=True" in card
    assert re.search(r"\| epochs run \| [\d.]+ \(configured 3\.0\) \|", card)  # max_steps=150 ends it early
    assert "input_prefix" not in card and "None" not in card.split("## Training", 1)[1].split("##")[0]
    cal = manifest["calibration"]  # the Calibration section: T, validation and test ECE before / after
    section = card.split("## Calibration", 1)[1].split("\n## ", 1)[0]
    assert f"T = {cal['temperature']:.3f}" in section
    assert f"| validation (fitted on) | 30 | {cal['ece_before']:.3f} | {cal['ece_after']:.3f} |" in section
    assert f"| test | {metrics['n']} | {metrics['ece_uncalibrated']:.3f} | {metrics['ece']:.3f} |" in section
    _assert_no_absolute_paths(card, trained.parent, tiny["data"].parent)
    assert "$" not in re.sub(r"\$ |\$\(", "", card)  # every placeholder filled


def test_tokenizer_max_length_and_file_modes(trained: Path):
    tok = json.loads((trained / "tokenizer_config.json").read_text())
    assert tok["model_max_length"] == 32  # the trained max_length, so pipeline(long_text) truncates right
    from transformers import pipeline

    clf = pipeline("text-classification", model=str(trained))
    assert clf("слово " * 500, truncation=True)[0]["label"] in json.loads((trained / "mlnews.json").read_text())["labels"]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in trained.iterdir() if p.is_file()}
    assert modes and all(m == 0o644 for m in modes.values()), modes


def test_transformers_snippet_runs_as_written_and_matches_classifier(trained: Path, monkeypatch):
    code = _plain_snippet((trained / "README.md").read_text(encoding="utf-8"))
    assert "import mlnews" not in code and "from mlnews" not in code
    ns = _run_snippet(code, trained.parent, monkeypatch)
    assert ns["labels"] == _classifier_labels(trained, ns["examples"])
    ns = _run_snippet(code, trained.parent, monkeypatch, VARIED)
    assert ns["labels"] == _classifier_labels(trained, VARIED) and len(set(ns["labels"])) > 1


def test_onnx_folder_has_its_own_card_and_snippet(trained: Path, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from mlnews.infer.onnx import export_onnx

    out = tmp_path / "tiny-onnx"
    export_onnx(trained, out, int8=True)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card != (trained / "README.md").read_text(encoding="utf-8")
    meta = _front_matter(card)
    assert meta["library_name"] == "onnx" and {"onnx", "int8"} <= set(meta["tags"])
    assert "int8" in card and "top-1 agreement" in card and "tiny-e5" in card
    cal = json.loads((trained / "mlnews.json").read_text())["calibration"]
    assert json.loads((out / "mlnews.json").read_text())["calibration"] == cal  # the export keeps it
    assert "## Calibration" in card and f"T = {cal['temperature']:.3f}" in card
    _assert_no_absolute_paths(card, trained.parent, tmp_path)
    assert json.loads((out / "tokenizer_config.json").read_text())["model_max_length"] == 32
    code = _plain_snippet(card)
    assert "onnxruntime" in code and "tokenizers" in code and "transformers" not in code and "mlnews" not in code
    ns = _run_snippet(code, out.parent, monkeypatch)
    assert ns["labels"] == _classifier_labels(out, ns["examples"])
    ns = _run_snippet(code, out.parent, monkeypatch, VARIED)
    assert ns["labels"] == _classifier_labels(out, VARIED)


def test_tfidf_card_says_nothing_about_tokens_and_its_skops_snippet_runs(tiny, tmp_path, monkeypatch):  # noqa: F811
    cfg = from_dict(ClassifierConfig, {"data": {"path": str(tiny["data"])}, "model": {"kind": "tfidf"}})
    out = train_from_config(cfg, tmp_path / "tiny-tfidf")
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "truncated" not in card and "tokens" not in card
    assert _front_matter(card)["library_name"] == "sklearn"
    ns = _run_snippet(_plain_snippet(card), out.parent, monkeypatch, VARIED)
    assert ns["labels"] == _classifier_labels(out, VARIED)


def test_base_model_ids():
    assert base_model_id("e5-small") == "intfloat/multilingual-e5-small"
    assert base_model_id("cointegrated/rubert-tiny2") == "cointegrated/rubert-tiny2"
    assert base_model_id(None) is None and base_model_id("/some/folder") is None


def test_seq2seq_summariser_card_and_tokenizer(tmp_path):
    from test_train_summariser import _config, _examples, _tiny_unigram_tokenizer
    from transformers import BertConfig, BertModel

    from mlnews.train.summariser import train

    enc = tmp_path / "tiny-encoder"
    tok = _tiny_unigram_tokenizer([r["text"] for r in _examples()], enc)
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128, pad_token_id=tok.pad_token_id)).save_pretrained(enc)
    data = tmp_path / "articles.jsonl"
    data.write_text("".join(json.dumps({**r, "split": s}, ensure_ascii=False) + "\n"
                            for r in _examples() for s in ("train", "validation", "test")), encoding="utf-8")
    old = os.umask(0o022)
    try:
        out = train(_config(tmp_path, enc, data), tmp_path / "summ", ["train.max_steps=2"], False)
    finally:
        os.umask(old)
    card = (out / "README.md").read_text(encoding="utf-8")
    meta = _front_matter(card)
    metrics = json.loads((out / "metrics.json").read_text())
    assert meta["language"] == ["ru", "uk"] and meta["pipeline_tag"] == "text2text-generation"  # target: title
    values = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert values["rouge1"] == round(metrics["rouge1"], 2)
    _assert_no_absolute_paths(card, tmp_path)
    assert json.loads((out / "tokenizer_config.json").read_text())["model_max_length"] == 48
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir() if p.is_file()}
    assert all(m == 0o644 for m in modes.values()), modes
