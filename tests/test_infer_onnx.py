"""ONNX export (fp32 and int8) of a tiny random BERT classifier, and the OnnxBackend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from infer_helpers import LABELS, labelled_headlines, tiny_tfidf_dir, tiny_transformer_dir
from cli_runner import main
from mlnews.errors import InputError, MlnewsError
from mlnews.infer.classifier import Classifier
from mlnews.infer.onnx import OnnxBackend, export_onnx

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def torch_dir(tmp_path_factory) -> Path:
    return tiny_transformer_dir(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def int8_dir(torch_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "int8"
    export_onnx(torch_dir, out, int8=True)
    return out


@pytest.fixture(scope="module")
def fp32_dir(torch_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "fp32"
    export_onnx(torch_dir, out, int8=False)
    return out


TEXTS = [t for t, _ in labelled_headlines()] + [
    "Короткий",
    "Очень длинный заголовок про экономику, спорт и политику, который заведомо длиннее тридцати двух токенов "
    "нашего крошечного токенизатора и поэтому будет обрезан до максимальной длины модели без ошибок",
]


def _recomputed_check(folder: Path, torch_dir: Path) -> dict:
    """The export check redone here: torch vs the exported folder, raw probabilities, on the export's texts."""
    from mlnews.infer.onnx import _CHECK_TEXTS

    p_torch = Classifier.load(torch_dir, calibrated=False).predict_proba(_CHECK_TEXTS)
    p_onnx = Classifier.load(folder, calibrated=False).predict_proba(_CHECK_TEXTS)
    return {"texts": len(_CHECK_TEXTS), "top1_agreement": float((p_torch.argmax(1) == p_onnx.argmax(1)).mean()),
            "max_abs_prob_diff": float(np.abs(p_torch - p_onnx).max())}


def test_export_writes_a_self_describing_onnx_folder(int8_dir: Path, fp32_dir: Path, torch_dir: Path):
    manifest = json.loads((int8_dir / "mlnews.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "onnx"
    assert manifest["labels"] == LABELS
    assert manifest["input"] == json.loads((torch_dir / "mlnews.json").read_text(encoding="utf-8"))["input"]
    assert manifest["onnx"]["int8"] is True and manifest["onnx"]["opset"] >= 17
    # The recorded check is what torch and the folder really give on the check texts. The 8 texts are outside
    # the tiny random model's training set: a near-tie there may flip under int8 rounding (7/8 seen), and it
    # moved one probability by 0.65 in one CI run, so the int8 probability gap is not bounded here (the int8
    # floor on the training-like TEXTS is in test_onnx_matches_torch); the fp32 export's check must be exact.
    check = manifest["onnx"]["check"]
    redone = _recomputed_check(int8_dir, torch_dir)
    assert check["texts"] == redone["texts"] == 8 and check["top1_agreement"] == redone["top1_agreement"] >= 0.75
    assert check["max_abs_prob_diff"] == pytest.approx(redone["max_abs_prob_diff"], abs=1e-4)
    fp32_check = json.loads((fp32_dir / "mlnews.json").read_text(encoding="utf-8"))["onnx"]["check"]
    assert fp32_check["top1_agreement"] == 1.0 and fp32_check["max_abs_prob_diff"] < 1e-4
    for name in ("model.onnx", "tokenizer.json", "config.json", "metrics.json"):
        assert (int8_dir / name).is_file(), name
    assert not (int8_dir / "model.safetensors").exists()  # the folder does not need torch weights


def test_export_keeps_the_calibration_and_onnx_applies_it(torch_dir: Path, tmp_path: Path):
    import shutil

    from mlnews.modelfolder import temperature_scale

    calibration = {"method": "temperature", "temperature": 1.5, "fitted_on": "validation", "rows": 30,
                   "ece_before": 0.2, "ece_after": 0.05}
    source = tmp_path / "calibrated"
    shutil.copytree(torch_dir, source)
    manifest = json.loads((source / "mlnews.json").read_text(encoding="utf-8"))
    (source / "mlnews.json").write_text(json.dumps({**manifest, "calibration": calibration}), encoding="utf-8")
    export_onnx(source, tmp_path / "onnx", int8=False)
    assert json.loads((tmp_path / "onnx" / "mlnews.json").read_text(encoding="utf-8"))["calibration"] == calibration
    onnx = Classifier.load(tmp_path / "onnx")
    assert onnx.calibrated and onnx.calibration.temperature == 1.5
    raw = onnx.raw_proba(TEXTS)  # the OnnxBackend's own softmax
    np.testing.assert_allclose(onnx.predict_proba(TEXTS), temperature_scale(raw, 1.5), atol=1e-6)
    np.testing.assert_allclose(Classifier.load(tmp_path / "onnx", calibrated=False).predict_proba(TEXTS), raw)
    # torch and ONNX report the same calibrated scores
    np.testing.assert_allclose(onnx.predict_proba(TEXTS), Classifier.load(source).predict_proba(TEXTS), atol=1e-4)
    assert "T = 1.500" in (tmp_path / "onnx" / "README.md").read_text(encoding="utf-8")


def test_int8_weights_are_smaller_than_fp32(int8_dir: Path, fp32_dir: Path):
    assert (int8_dir / "model.onnx").stat().st_size < (fp32_dir / "model.onnx").stat().st_size


def test_onnx_matches_torch(torch_dir: Path, fp32_dir: Path, int8_dir: Path):
    # raw probabilities: the export is compared, not the calibration (the same transform on both sides,
    # which with T < 1 would magnify int8 rounding on this tiny random model)
    p_torch = Classifier.load(torch_dir, calibrated=False).predict_proba(TEXTS)
    fp32 = Classifier.load(fp32_dir, calibrated=False)
    int8 = Classifier.load(int8_dir, calibrated=False)
    assert isinstance(int8.backend, OnnxBackend)
    p_fp32 = fp32.predict_proba(TEXTS)
    p_int8 = int8.predict_proba(TEXTS)
    assert np.abs(p_fp32 - p_torch).max() < 1e-4
    # int8 rounding on this 32-wide model moves probabilities by about a point on average, and by up to
    # 0.22 on the odd near-tie (12 runs: mean 0.007-0.012, max 0.016-0.22; the tokenizer trainer's tie-breaking
    # makes every run's model a little different); the export itself is checked exactly by the fp32 line above
    assert np.abs(p_int8 - p_torch).mean() < 0.03
    assert np.abs(p_int8 - p_torch).max() < 0.35
    agreement = (p_int8.argmax(1) == p_torch.argmax(1)).mean()
    assert agreement >= 0.9
    np.testing.assert_allclose(p_int8.sum(1), 1.0, atol=1e-5)


def test_dynamic_batch_and_padding_do_not_change_predictions(fp32_dir: Path):
    backend = OnnxBackend(fp32_dir, batch_size=4)
    together = backend.predict_proba(TEXTS)
    alone = np.vstack([backend.predict_proba([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert backend.predict_proba([]).shape == (0, len(LABELS))


def test_predictions_carry_label_names(int8_dir: Path):
    preds = Classifier.load(int8_dir).predict(["Курс рубля упал", "Матч"], top_k=2)
    assert [len(p["top_k"]) for p in preds] == [2, 2]
    assert all(p["label"] in LABELS for p in preds)


def test_export_refuses_non_transformer_folders(tmp_path: Path, torch_dir: Path):
    tfidf = tiny_tfidf_dir(tmp_path / "tfidf")
    with pytest.raises(MlnewsError, match="ONNX export needs a 'transformer' or 'embedding' model folder"):
        export_onnx(tfidf, tmp_path / "out")
    with pytest.raises(MlnewsError, match="must differ from the model folder"):
        export_onnx(torch_dir, torch_dir)
    assert not (tmp_path / "out").exists()


def test_onnx_backend_on_a_folder_without_model_onnx(torch_dir: Path, tmp_path: Path):
    # a transformer folder: --backend onnx looks for its own export in DIR/onnx
    with pytest.raises(InputError, match=r"no ONNX export in .*onnx; make one with `mlnews export"):
        Classifier.load(torch_dir, backend="onnx")
    # an onnx folder whose model.onnx is gone
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(torch_dir, broken)
    m = json.loads((broken / "mlnews.json").read_text(encoding="utf-8"))
    m["kind"] = "onnx"
    (broken / "mlnews.json").write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(InputError, match=r"model\.onnx: not found; export one with `mlnews export"):
        Classifier.load(broken)


def test_export_cli(torch_dir: Path, tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", str(torch_dir), "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "--onnx is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["export", str(torch_dir), "--onnx", "--int8", "--out", str(tmp_path / "cli")])
    assert exc.value.code == 0
    err = capsys.readouterr().err
    import re

    shown = re.search(r"top-1 agreement (\d+)%", err)
    assert shown and int(shown.group(1)) >= 75, err
    assert Classifier.load(tmp_path / "cli").manifest["onnx"]["int8"] is True
