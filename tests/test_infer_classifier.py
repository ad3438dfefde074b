"""The Classifier inference API on tiny model folders (transformer and TF-IDF backends)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlnews.errors import MlnewsError
from mlnews.infer.classifier import Classifier, TorchBackend
from mlnews.modelfolder import Manifest, ModelFolder
from test_train_tinybert import LABELS, build_tiny_bert, synthetic_rows


@pytest.fixture(scope="module")
def transformer_dir(tmp_path_factory) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = build_tiny_bert(tmp_path_factory.mktemp("base"))
    out = tmp_path_factory.mktemp("clf")
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)}
    )
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    ModelFolder(out).finish(Manifest.new(task="classification", kind="transformer", labels=LABELS,
                                      input={"prefix": "query: ", "max_length": 32, "use_lead": True, "body_chars": 20},
                                      base_model="tiny"))
    return out


@pytest.fixture(scope="module")
def tfidf_dir(tmp_path_factory) -> Path:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from mlnews.train.tfidf import save_pipeline

    rows = synthetic_rows(90)
    pipe = Pipeline([("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))), ("clf", LogisticRegression(C=10))])
    pipe.fit([r["text"] for r in rows], [r["label"] for r in rows])
    out = tmp_path_factory.mktemp("tfidf")
    save_pipeline(pipe, out / "model.skops")
    # Manifest label order differs from the pipeline's alphabetical classes_ on purpose.
    ModelFolder(out).finish(Manifest.new(task="classification", kind="tfidf", labels=LABELS,
                                      input={"prefix": "", "max_length": 128, "use_lead": True, "body_chars": 300}))
    return out


def test_transformer_predictions_carry_label_names(transformer_dir):
    clf = Classifier.load(transformer_dir)
    assert isinstance(clf.backend, TorchBackend)
    assert clf.labels.names == LABELS
    preds = clf.predict(["рубль банк нефть", "матч футбол", "закон депутат уряд"], top_k=2)
    assert len(preds) == 3
    for p in preds:
        assert p["label"] in LABELS and not p["label"].startswith("LABEL_")
        assert [x["label"] for x in p["top_k"]][0] == p["label"]
        assert len(p["top_k"]) == 2 and p["top_k"][0]["score"] >= p["top_k"][1]["score"]


def test_probabilities_sum_to_one_and_keep_input_order(transformer_dir):
    clf = Classifier.load(transformer_dir, batch_size=2)
    texts = ["короткий", "гораздо более длинный заголовок про рубль и банк и нефть", "матч", "закон о бюджете страны"]
    probs = clf.predict_proba(texts)
    assert probs.shape == (4, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # Sorting by length inside the backend must not reorder results.
    single = np.vstack([clf.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(probs, single, atol=1e-5)


def test_compose_applies_manifest_prefix_and_body_chars(transformer_dir):
    clf = Classifier.load(transformer_dir)
    assert clf.compose("Заголовок", lead="Лид", body="Первое предложение текста статьи") == (
        "query: Заголовок\nЛид\nПервое предложение"
    )
    assert clf.compose("Заголовок") == "query: Заголовок"


def test_tfidf_backend_maps_columns_to_manifest_order(tfidf_dir):
    clf = Classifier.load(tfidf_dir)
    assert clf.labels.names == LABELS
    preds = clf.predict(["банк рубль ставка", "матч футбол гол", "депутат закон парламент"])
    assert [p["label"] for p in preds] == ["economy", "sports", "politics"]
    probs = clf.predict_proba(["банк рубль ставка"])
    assert probs[0].argmax() == LABELS.index("economy")


def test_load_errors_are_one_line(tmp_path, tfidf_dir):
    with pytest.raises(MlnewsError, match="not an mlnews model folder"):
        Classifier.load(tmp_path)
    with pytest.raises(MlnewsError, match="model folder not found"):
        Classifier.load(tmp_path / "nope")
    with pytest.raises(MlnewsError, match="backend 'torch' needs a transformer"):
        Classifier.load(tfidf_dir, backend="torch")
    with pytest.raises(MlnewsError, match="backend: 'gpu' is not allowed"):
        Classifier.load(tfidf_dir, backend="gpu")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "mlnews.json").write_text(json.dumps({"format": 1, "task": "classification", "kind": "tfidf"}))
    with pytest.raises(MlnewsError, match="labels: expected a non-empty list"):
        Classifier.load(bad)


def test_tfidf_refuses_untrusted_types(tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    out = tmp_path / "evil"
    out.mkdir()
    sio.dump(FunctionTransformer(func=json.loads), out / "model.skops")
    ModelFolder(out).finish(Manifest.new(task="classification", kind="tfidf", labels=LABELS))
    with pytest.raises(MlnewsError, match="refusing to load untrusted types"):
        Classifier.load(out)


def test_predict_rejects_bad_arguments(tfidf_dir):
    clf = Classifier.load(tfidf_dir)
    with pytest.raises(ValueError, match="top_k"):
        clf.predict(["x"], top_k=0)
    with pytest.raises(TypeError, match="list of strings"):
        clf.predict_proba("одна строка")
    assert clf.predict_proba([]).shape == (0, 3)


def _with_calibration(src: Path, dst: Path, temperature: float) -> Path:
    """A copy of a model folder whose mlnews.json carries a temperature calibration."""
    import shutil

    shutil.copytree(src, dst)
    manifest = json.loads((dst / "mlnews.json").read_text(encoding="utf-8"))
    manifest["calibration"] = {"method": "temperature", "temperature": temperature, "fitted_on": "validation", "rows": 30}
    (dst / "mlnews.json").write_text(json.dumps(manifest), encoding="utf-8")
    return dst


@pytest.mark.parametrize("kind", ["transformer", "tfidf"])
def test_the_classifier_applies_the_folders_temperature(kind, transformer_dir, tfidf_dir, tmp_path):
    from mlnews.modelfolder import temperature_scale

    folder = _with_calibration({"transformer": transformer_dir, "tfidf": tfidf_dir}[kind], tmp_path / kind, 0.5)
    texts = [r["text"] for r in synthetic_rows(9, seed=4)]
    clf = Classifier.load(folder)
    assert clf.calibrated and clf.calibration.temperature == 0.5
    raw = Classifier.load(folder, calibrated=False)
    assert not raw.calibrated and raw.calibration.temperature == 0.5
    p_raw, p_cal = raw.predict_proba(texts), clf.predict_proba(texts)
    assert np.allclose(p_raw, clf.raw_proba(texts))
    assert np.allclose(p_cal, temperature_scale(p_raw, 0.5), atol=1e-6)  # exactly the temperature transform
    assert not np.allclose(p_cal, p_raw) and (p_cal.argmax(1) == p_raw.argmax(1)).all()
    assert (p_cal.max(1) >= p_raw.max(1) - 1e-6).all()  # T < 1 sharpens
    preds = clf.predict(texts, top_k=2)
    assert [p["score"] for p in preds] == pytest.approx(p_cal.max(1).tolist(), abs=1e-6)
    assert [p["label"] for p in preds] == [p["label"] for p in raw.predict(texts)]


def test_a_folder_without_calibration_gives_raw_probabilities(tfidf_dir):
    """Folders trained before calibration existed (or with train.calibrate: false) load as before: T = 1."""
    assert "calibration" not in json.loads((tfidf_dir / "mlnews.json").read_text(encoding="utf-8"))
    clf = Classifier.load(tfidf_dir)
    assert clf.calibration is None and not clf.calibrated
    texts = [r["text"] for r in synthetic_rows(5, seed=6)]
    assert np.array_equal(clf.predict_proba(texts), clf.raw_proba(texts))


def test_a_bad_calibration_is_a_one_line_load_error(tfidf_dir, tmp_path):
    folder = _with_calibration(tfidf_dir, tmp_path / "bad", -1)
    with pytest.raises(MlnewsError, match=r"mlnews\.json: calibration\.temperature: expected a number > 0, got -1$"):
        Classifier.load(folder)
