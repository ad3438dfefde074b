"""Pieces every HF-Trainer-based trainer shares: progress and tracking hookup, the time limit, the last checkpoint."""

from __future__ import annotations

import time
from pathlib import Path


TRACKING_DIR = "runs"  # TensorBoard event files of `train.report_to: tensorboard`, inside the model folder


def attach(trainer, out_dir: Path):
    """Hook a Trainer up the mlnews way: progress and logs on stderr (:func:`mlnews.progress.hook_trainer`,
    never the Trainer's stdout dicts and bars), and TensorBoard events in ``OUT/runs`` (the Trainer's
    default is under ``output_dir``, the checkpoint folder, which is removed after a completed run)."""
    from transformers.integrations import TensorBoardCallback

    from mlnews.progress import hook_trainer

    hook_trainer(trainer)
    for cb in trainer.callback_handler.callbacks:
        if isinstance(cb, TensorBoardCallback) and cb.logging_dir is None:  # $TENSORBOARD_LOGGING_DIR wins
            cb.logging_dir = str(Path(out_dir) / TRACKING_DIR)
    return trainer


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


def train_history(trainer, result, train_seconds: float, limit, resumed_from: str | None, **extra) -> dict:
    """The ``train_history.json`` record every Trainer-based trainer writes (``extra``: trainer-specific counts)."""
    return {
        "train_seconds": round(train_seconds, 1),
        "global_step": trainer.state.global_step,
        "epochs_done": round(float(trainer.state.epoch or 0), 3),
        "train_loss": round(float(result.training_loss), 4),
        "stopped_by_time_limit": bool(limit and limit.hit),
        "log": trainer.state.log_history,
        "resumed_from": Path(resumed_from).name if resumed_from else None,
        **extra,
    }
