"""Pieces every HF-Trainer-based trainer shares: the time limit and the last checkpoint."""

from __future__ import annotations

import time
from pathlib import Path


def time_limit_callback(minutes: float):
    """A ``TrainerCallback`` that stops training (saving a checkpoint) once ``minutes`` of it are spent;
    its ``hit`` says whether it did (``--resume`` continues from that checkpoint)."""
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.monotonic()
            self.hit = False

        def on_step_end(self, args, state, control, **kwargs):
            if time.monotonic() - self.start > minutes * 60:
                self.hit = True
                control.should_training_stop = True
                control.should_save = True
            return control

    return TimeLimit()


def last_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest complete ``checkpoint-N`` folder in ``ckpt_dir`` (None when there is none).

    The Trainer writes ``trainer_state.json`` last: a checkpoint without it was torn by a kill during
    its save (issue #15, scripts/fault_suite.py) and is removed, so ``--resume`` continues from the
    complete one before it instead of failing in ``trainer.train``.
    """
    import re
    import shutil

    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    complete = []
    for path in ckpt_dir.iterdir():
        m = re.fullmatch(rf"{PREFIX_CHECKPOINT_DIR}-(\d+)", path.name)
        if m and path.is_dir():
            if (path / "trainer_state.json").is_file():
                complete.append((int(m.group(1)), str(path)))
            else:
                shutil.rmtree(path, ignore_errors=True)
    return max(complete)[1] if complete else None
