"""``model.kind: embedding``: a frozen tiny random encoder, mean-pooled, with a logistic-regression head.

Covers: train through the real entry point, every artefact in the folder and no pickle; the encoder is
really frozen (its weights in the folder equal the base's); the head learns the keyword topics better
than chance and from 8 examples per label; torch predictions equal encoder + skops head by hand; the ONNX
export (encoder + pooling + head in one graph) agrees with torch and ``backend auto`` then uses it and
says so; a stale export is ignored; config keys of other kinds are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlnews.config import from_dict
from mlnews.errors import ConfigError, MlnewsError
from mlnews.infer.classifier import Classifier
from mlnews.train.classifier import train_from_config
from mlnews.train.config import ClassifierConfig
from test_train_tinybert import LABELS, build_tiny_bert, build_tiny_dataset, synthetic_rows


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-embed")
    return {"data": build_tiny_dataset(root / "ds", n_train=120, n_eval=45), "bert": build_tiny_bert(root / "bert"),
            "root": root}


def make_cfg(tiny: dict[str, Path], **extra: object) -> ClassifierConfig:
    d = {"data": {"path": str(tiny["data"])},
         "model": {"kind": "embedding", "name_or_path": str(tiny["bert"]), "max_length": 32},
         "train": {"seed": 3, "class_weights": "balanced"},
         "head": {"C": 20.0}}
    for key, value in extra.items():
        d.setdefault(key, {}).update(value)
    return from_dict(ClassifierConfig, d)


@pytest.fixture(scope="module")
def trained(tiny) -> Path:
    return train_from_config(make_cfg(tiny), tiny["root"] / "model")


def test_folder_has_encoder_head_and_manifest_and_no_pickle(trained, tiny):
    names = {p.name for p in trained.iterdir()}
    assert {"mlnews.json", "model.safetensors", "config.json", "tokenizer.json", "head.skops", "metrics.json",
            "README.md", "train_config.yaml"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pkl", ".pickle"))]
    manifest = json.loads((trained / "mlnews.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "embedding" and manifest["labels"] == LABELS
    config = json.loads((trained / "config.json").read_text(encoding="utf-8"))
    assert [config["id2label"][str(i)] for i in range(len(LABELS))] == LABELS
    card = (trained / "README.md").read_text(encoding="utf-8")
    assert "head.skops" in card and "head.C" in card


def test_encoder_is_frozen(trained, tiny):
    from safetensors.numpy import load_file

    base = load_file(str(tiny["bert"] / "model.safetensors"))
    saved = load_file(str(trained / "model.safetensors"))
    shared = [k for k in saved if k in base]
    assert len(shared) > 10
    assert all(np.array_equal(base[k], saved[k]) for k in shared)


def test_learns_keyword_topics_better_than_chance(trained):
    clf = Classifier.load(trained)
    rows = synthetic_rows(60, seed=11)
    preds = clf.predict([r["text"] for r in rows], leads=[r["lead"] for r in rows], bodies=[r["body"] for r in rows])
    acc = np.mean([p["label"] == r["label"] for p, r in zip(preds, rows)])
    assert acc >= 0.6, acc  # chance is 1/3
    metrics = json.loads((trained / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["macro_f1"] >= 0.5


def test_few_shot_from_eight_examples_per_label(tiny, tmp_path):
    from test_train_tinybert import build_tiny_dataset as build

    ds = build(tmp_path / "ds8", n_train=24, n_eval=30)  # 8 rows of each of the 3 labels
    out = train_from_config(make_cfg(tiny, data={"path": str(ds)}), tmp_path / "m8")
    clf = Classifier.load(out)
    rows = synthetic_rows(60, seed=12)
    preds = clf.predict([r["text"] for r in rows])
    assert np.mean([p["label"] == r["label"] for p, r in zip(preds, rows)]) > 0.45  # chance 1/3


def test_torch_backend_is_encoder_plus_head(trained):
    from mlnews.infer.classifier import load_skops
    from mlnews.models.encoder import SentenceEncoder

    clf = Classifier.load(trained, calibrated=False)
    texts = [clf.compose(r["text"]) for r in synthetic_rows(9, seed=4)]
    enc = SentenceEncoder.load(trained, max_length=32)
    feats = enc.encode(texts)
    assert np.allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    head = load_skops(trained / "head.skops")
    want = head.predict_proba(feats)[:, [list(head.classes_).index(lab) for lab in LABELS]]
    assert np.allclose(clf.backend.predict_proba(texts), want, atol=1e-5)


def test_onnx_export_agrees_and_auto_uses_it(trained, tmp_path):
    import shutil

    from mlnews.infer.onnx import export_onnx

    copy = tmp_path / "model"
    shutil.copytree(trained, copy)
    torch_clf = Classifier.load(copy)
    assert torch_clf.backend_name == "torch"
    manifest = export_onnx(copy, copy / "onnx", int8=False)
    assert manifest.extra["onnx"]["source_kind"] == "embedding"
    assert manifest.extra["onnx"]["check"]["top1_agreement"] == 1.0
    auto = Classifier.load(copy)
    assert auto.backend_name.startswith("onnx fp32")
    texts = [r["text"] for r in synthetic_rows(12, seed=5)]
    assert np.allclose(auto.predict_proba(texts), torch_clf.predict_proba(texts), atol=1e-4)
    assert Classifier.load(copy, backend="torch").backend_name == "torch"  # forcing torch still works
    # an export of another training run (a different created stamp) is not used
    m = json.loads((copy / "onnx" / "mlnews.json").read_text(encoding="utf-8"))
    m["created"] = "2000-01-01T00:00:00+00:00"
    (copy / "onnx" / "mlnews.json").write_text(json.dumps(m), encoding="utf-8")
    assert Classifier.load(copy).backend_name == "torch"


def test_backend_onnx_without_an_export_is_a_one_line_error(trained):
    with pytest.raises(MlnewsError, match="no ONNX export.*mlnews export"):
        Classifier.load(trained, backend="onnx")
    with pytest.raises(MlnewsError, match="backend 'tfidf' needs a tfidf model folder"):
        Classifier.load(trained, backend="tfidf")


@pytest.mark.parametrize("extra, message", [
    ({"model": {"freeze_layers": 1}}, "model.freeze_layers: not used by model.kind embedding"),
    ({"train": {"epochs": 2}}, "train.epochs: not used by model.kind embedding"),
    ({"tfidf": {"C": 1.0}}, "tfidf: not used by model.kind embedding"),
    ({"head": {"C": 0}}, r"head.C: expected > 0"),
])
def test_keys_of_other_kinds_are_refused(tiny, extra, message):
    with pytest.raises(ConfigError, match=message):
        make_cfg(tiny, **extra).validate()
