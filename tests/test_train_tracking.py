"""train.report_to / train.run_name: the Trainer's tracking integrations, TensorBoard events in OUT/runs."""

from __future__ import annotations

import importlib.util

import pytest

from mlnews.errors import ConfigError
from mlnews.train.classifier import train_from_config
from test_train_classifier import make_cfg, tiny  # noqa: F401  (the module fixture)


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason='tensorboard not installed (pip install -e ".[tensorboard]")')
def test_tensorboard_event_files_appear_in_the_model_folder(tiny, tmp_path, capsys):  # noqa: F811
    cfg = make_cfg(tiny, max_steps=4, logging_steps=2, eval_steps=2, report_to="tensorboard", run_name="tiny-run")
    out = train_from_config(cfg, tmp_path / "model")
    events = sorted((out / "runs").rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)
    data = b"".join(e.read_bytes() for e in events)
    assert b"train/loss" in data and b"eval/macro_f1" in data  # the logged scalars
    assert b'"run_name": "tiny-run"' in data  # the Trainer's args, as TensorBoard text
    assert not (out / "checkpoints").exists()  # events survive the checkpoint clean-up
    stdout = capsys.readouterr().out
    assert "{'loss'" not in stdout and "'eval_loss'" not in stdout  # logs go to stderr, never stdout


def test_report_to_is_checked(tiny, monkeypatch):  # noqa: F811
    with pytest.raises(ConfigError, match=r"train\.report_to: 'nope'|report_to"):
        make_cfg(tiny, report_to="nope")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match=r"report_to: 'wandb' needs the wandb package, which is not installed; pip install wandb"):
        make_cfg(tiny, report_to="wandb")
