"""Every shipped training config loads and validates against its dataclass (no training here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlnews.config import project_root, resolve_path
from mlnews.train.config import ClassifierConfig, load_classifier_config, read_task

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
    assert cfg.model.kind in ("transformer", "tfidf")
    # data.path names something that exists in a fresh clone (a data config or a dataset folder)
    assert resolve_path(cfg.data.path, project_root()).exists(), cfg.data.path


@pytest.mark.parametrize("path", SUMMARISER, ids=lambda p: p.name)
def test_summariser_config_loads(path):
    from mlnews.train.summariser import SummariserConfig, load_summariser_config

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
