"""mlnews.modelfolder: the out-dir guard after a run was killed (issue #15)."""

from __future__ import annotations

import pytest

from mlnews.errors import InputError
from mlnews.modelfolder import CHECKPOINTS, CONFIG, ModelFolder


def test_run_killed_before_its_first_checkpoint_restarts_without_resume(tmp_path, capsys):
    """Only labels.json in checkpoints/: --resume has nothing to continue, so a plain run must be allowed."""
    out = tmp_path / "m"
    (out / CHECKPOINTS).mkdir(parents=True)
    (out / CHECKPOINTS / "labels.json").write_text('["economy", "sports"]', encoding="utf-8")
    (out / CONFIG).write_text("task: classification\n", encoding="utf-8")
    ModelFolder.prepare(out, resume=False, checkpoints=True)
    assert list(out.iterdir()) == [] and "overwriting it" in capsys.readouterr().err


def test_run_with_a_checkpoint_still_needs_resume(tmp_path):
    out = tmp_path / "m"
    (out / CHECKPOINTS / "checkpoint-6").mkdir(parents=True)
    with pytest.raises(InputError, match="holds checkpoints of an unfinished run; pass --resume"):
        ModelFolder.prepare(out, resume=False, checkpoints=True)
    assert ModelFolder.prepare(out, resume=True, checkpoints=True).path == out
