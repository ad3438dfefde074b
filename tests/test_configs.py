"""Every shipped training config loads and validates against its dataclass (no training here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlnews.config import resolve_path
from mlnews.train.config import CLASSIFIER_KINDS, ClassifierConfig, load_classifier_config, read_task

REPO = Path(__file__).resolve().parent.parent
CLASSIFIER = sorted((REPO / "configs" / "classifier").glob("*.yaml"))
SUMMARISER = sorted((REPO / "configs" / "summariser").glob("*.yaml"))


def test_the_documented_configs_are_shipped():
    names = {p.name for p in CLASSIFIER}
    assert {"tfidf.yaml", "e5-small.yaml", "sample.yaml"} <= names


@pytest.mark.parametrize("path", CLASSIFIER, ids=lambda p: p.name)
def test_classifier_config_loads(path):
    assert read_task(path) == "classification"
    cfg = load_classifier_config(path)
    assert isinstance(cfg, ClassifierConfig)
    assert cfg.model.kind in CLASSIFIER_KINDS
    # data.path names something that exists in a fresh clone (a data config or a dataset folder)
    assert resolve_path(cfg.data.path, path).exists(), cfg.data.path  # the one path rule, from the config file


@pytest.mark.parametrize("path", SUMMARISER, ids=lambda p: p.name)
def test_summariser_config_loads(path):
    from mlnews.train.config import SummariserConfig, load_summariser_config

    assert read_task(path) == "summarisation"
    assert isinstance(load_summariser_config(path), SummariserConfig)


def test_default_transformer_config_fits_the_cpu_budget():
    """The default must finish on 2 CPU cores in ~30 minutes: frozen word embeddings, short inputs."""
    cfg = load_classifier_config(REPO / "configs" / "classifier" / "e5-small.yaml")
    assert cfg.model.kind == "transformer" and cfg.model.name_or_path == "e5-small"
    assert cfg.model.freeze_embeddings
    assert cfg.model.max_length <= 128


def test_read_task_errors(tmp_path):
    from mlnews.errors import ConfigError

    p = tmp_path / "c.yaml"
    p.write_text("data: {}\n")
    with pytest.raises(ConfigError, match=r"task: required key is missing"):
        read_task(p)
    p.write_text("task: translation\n")
    with pytest.raises(ConfigError, match=r"task: 'translation' is not allowed"):
        read_task(p)


# --- keys that a task or a model kind would ignore are errors (for every shipped config) -------------

CLASSIFIER_ONLY = ["train.group_by_length=true", "train.early_stopping_patience=2", "train.eval_max_examples=10",
                   "train.class_weights=balanced"]


@pytest.mark.parametrize("path", SUMMARISER, ids=lambda p: p.name)
@pytest.mark.parametrize("override", CLASSIFIER_ONLY)
def test_summariser_configs_refuse_classifier_only_keys(path, override):
    from mlnews.errors import ConfigError
    from mlnews.train.config import load_summariser_config

    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=rf"{key.replace('.', '[.]')}: unknown key"):
        load_summariser_config(path, [override])


@pytest.mark.parametrize("path", CLASSIFIER, ids=lambda p: p.name)
def test_classifier_configs_refuse_keys_their_kind_ignores(path):
    from mlnews.errors import ConfigError

    kind = load_classifier_config(path).model.kind
    ignored = (["model.freeze_layers=2", "model.max_length=64", "train.epochs=2", "train.learning_rate=1e-4",
                "train.group_by_length=true", "train.time_limit_minutes=5"] if kind == "tfidf" else ["tfidf.C=2.0"])
    for override in ignored:
        key = override.split("=")[0]
        key = "tfidf" if key.startswith("tfidf.") else key  # a whole section that does not apply is named as such
        with pytest.raises(ConfigError, match=rf"{key.replace('.', '[.]')}: not used by model.kind {kind}") as exc:
            load_classifier_config(path, [override])
        assert "\n" not in str(exc.value)


def test_bounds_are_declared_next_to_the_field():
    from mlnews.errors import ConfigError

    path = CLASSIFIER[0]
    for override, message in [("train.batch_size=0", r"train\.batch_size: expected >= 1, got 0"),
                              ("data.min_confidence=1.5", r"data\.min_confidence: expected >= 0 and <= 1, got 1\.5"),
                              ("train.warmup_ratio=1", r"train\.warmup_ratio: expected >= 0 and < 1, got 1"),
                              ("data.max_train_examples=0", r"data\.max_train_examples: expected >= 1 or null, got 0")]:
        with pytest.raises(ConfigError, match=message):
            load_classifier_config(path, [override])


def test_one_path_rule_config_folder_then_cwd_then_repo_root(tmp_path, monkeypatch):
    """data.path: configs/data/sample.yaml works for both trainers from any working directory."""
    from mlnews.config import PathResolver, config_file, resolve_path
    from mlnews.train.config import load_summariser_config

    monkeypatch.chdir(tmp_path)
    cfg_path = REPO / "configs" / "summariser" / "e5_lead.yaml"
    cfg = load_summariser_config(cfg_path, ["data.path=configs/data/sample.yaml"])
    assert resolve_path(cfg.data.path, config_file(cfg)) == (REPO / "configs" / "data" / "sample.yaml").resolve()
    # the config's own folder comes first: a file beside the config wins over the repository's
    own = tmp_path / "cfgs"
    (own / "configs" / "data").mkdir(parents=True)
    (own / "configs" / "data" / "sample.yaml").write_text("x")
    assert PathResolver(own / "c.yaml").find("configs/data/sample.yaml") == (own / "configs/data/sample.yaml").resolve()
