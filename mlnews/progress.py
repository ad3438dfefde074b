"""Progress on stderr for every long step, and the one place where library chatter is silenced.

:class:`StageProgress` is what commands hand to the library as ``progress(stage, n, total=None)``:

* on a terminal, a rich bar per stage: count / total, percentage, rate, elapsed, ETA (a spinner
  and a count when the total is unknown); a stage's timer stops when the next stage starts;
* otherwise (CI, ``nohup``, Ray or Docker logs) plain lines, one per stage every ``interval``
  seconds (``MLNEWS_PROGRESS_INTERVAL``, default 10) and one when the stage ends;
* at :meth:`StageProgress.close` a throughput line per stage (``rows in 3.2s, 1,450 rows/s``).

Only results go to stdout: progress, summaries and notes always go to stderr.

:func:`quiet_libraries` hides what says nothing to a user of mlnews (hub and datasets progress bars,
transformers' load reports and advice, the tokenizers fork warning). The CLI calls it once, before
any command; library users keep the libraries' defaults.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, Optional


def _rate(n: float, seconds: float, unit: str) -> str:
    return f"{n / max(seconds, 1e-9):,.0f} {unit}/s"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds + 0.5), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


@dataclass
class _Stage:
    name: str
    unit: str
    total: Optional[float] = None
    done: float = 0
    started: float = field(default_factory=time.monotonic)
    ended: Optional[float] = None
    last_line: float = field(default_factory=time.monotonic)
    task: Any = None

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started


class StageProgress:
    """Progress of named stages on stderr (see the module docstring); use as a context manager.

    ``enabled=False`` prints nothing (``--quiet``). ``tty`` forces the rich (True) or plain (False)
    display; by default it follows ``stream.isatty()``.
    """

    def __init__(self, prefix: str, *, unit: str = "rows", enabled: bool = True, stream: Optional[IO[str]] = None,
                 tty: Optional[bool] = None, interval: Optional[float] = None, summary: bool = True):
        self.prefix, self.unit, self.enabled, self.summary = prefix, unit, enabled, summary
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = float(os.environ.get("MLNEWS_PROGRESS_INTERVAL", "10")) if interval is None else interval
        self.stages: dict[str, _Stage] = {}
        self._current: Optional[_Stage] = None
        self._bar = None
        if enabled and self.tty:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskProgressColumn,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self._bar = Progress(SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"),
                                 BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[unit]}"),
                                 TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=Console(file=self.stream, force_terminal=True))
            self._bar.start()

    # -- the callback protocol: progress(stage, n, total=None) ---------------------------------------
    def __call__(self, stage: str, n: float = 0, total: Optional[float] = None) -> None:
        self.advance(stage, n, total=total)

    def start(self, stage: str, total: Optional[float] = None, unit: Optional[str] = None, *,
              nested: bool = False) -> None:
        """Begin ``stage``, finishing the current one (its timer stops) unless ``nested``
        (a sub-stage such as an evaluation inside training, ended with :meth:`finish`)."""
        if not nested and self._current is not None and self._current.name != stage:
            self.finish()
        if stage in self.stages:
            return
        st = _Stage(stage, unit or self.unit, total)
        self.stages[stage] = st
        if not nested:
            self._current = st
        if self._bar is not None:
            st.task = self._bar.add_task(stage, total=total, unit=st.unit, rate="")
        elif self.enabled:  # a plain log says at once what is running (an export step can take a minute)
            size = f" ({total:,.0f} {st.unit})" if total and total > 1 else ""
            print(f"{self.prefix}: {stage}{size} ...", file=self.stream, flush=True)

    def advance(self, stage: str, n: float = 0, *, total: Optional[float] = None) -> None:
        st = self.stages.get(stage)
        if st is None or st.ended is not None:
            self.start(stage, total)
            st = self.stages[stage]
        self.update(stage, completed=st.done + n, total=total)

    def update(self, stage: str, *, completed: Optional[float] = None, total: Optional[float] = None) -> None:
        """Set a stage's position (e.g. a byte offset) and/or total."""
        if stage not in self.stages:
            self.start(stage, total)
        st = self.stages[stage]
        if total is not None:
            st.total = total
        if completed is not None:
            st.done = completed
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(st.task, completed=st.done, total=st.total, rate=_rate(st.done, st.seconds, st.unit))
        elif time.monotonic() - st.last_line >= self.interval:
            st.last_line = time.monotonic()
            self._line(st)

    def finish(self, stage: Optional[str] = None) -> None:
        """End ``stage`` (default: the current one): its timer stops, a bar with a total is filled."""
        st = self.stages.get(stage) if stage else self._current
        if st is None or st.ended is not None:
            return
        st.ended = time.monotonic()
        if st is self._current:
            self._current = None
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(st.task, total=st.done, completed=st.done, rate=_rate(st.done, st.seconds, st.unit))
            self._bar.stop_task(st.task)
        else:
            self._line(st, final=True)

    def forget(self, stage: str) -> None:
        """Drop a finished stage (its bar and its throughput line)."""
        st = self.stages.pop(stage, None)
        if st is not None and self._bar is not None and st.task is not None:
            self._bar.remove_task(st.task)

    def note(self, text: str) -> None:
        """One line on stderr (above the bars on a terminal), e.g. a training log."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(f"{self.prefix}: {text}", markup=False, highlight=False)
        else:
            print(f"{self.prefix}: {text}", file=self.stream, flush=True)

    def _line(self, st: _Stage, final: bool = False) -> None:
        if final and st.total == 1:  # a single step: its time says it all
            text = f"{st.name}: done in {_duration(st.seconds)}"
        elif final:
            text = f"{st.name}: {st.done:,.0f} {st.unit} in {_duration(st.seconds)} ({_rate(st.done, st.seconds, st.unit)})"
        else:
            pos = f"{st.done:,.0f}" + (f"/{st.total:,.0f} {st.unit} ({st.done / st.total:.0%})" if st.total else f" {st.unit}")
            eta = ""
            if st.total and st.done:
                eta = f", ETA {_duration(st.seconds * (st.total - st.done) / st.done)}"
            text = f"{st.name}: {pos}, {_rate(st.done, st.seconds, st.unit)}, {_duration(st.seconds)} elapsed{eta}"
        print(f"{self.prefix}: {text}", file=self.stream, flush=True)

    def close(self) -> None:
        """Finish every stage; print the throughput line per stage (the rich display is left in place)."""
        self.finish()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            if self.enabled and self.summary:
                for st in self.stages.values():
                    self._line(st, final=True)

    def __enter__(self) -> "StageProgress":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:  # an error says what happened; no throughput lines after it
            self.enabled = False
        self.close()


def _lines(path: str) -> int:
    """Newlines in a file (plus a last unterminated line), read in 1 MiB blocks."""
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
            last = block[-1:]
        return n + (last != b"\n")


def input_total(sources: list[tuple[str, str]]) -> Optional[int]:
    """The number of input lines (rows + blank lines) of resolved ``(source, format)`` pairs, if known.

    JSONL and TXT count lines, CSV/TSV lines less the header, Parquet its row count from the file
    footer; stdin and pages give ``None`` (unknown total: the bar shows a count and a rate). A count
    pass over a line file reads at disk speed, a small fraction of classifying it.
    """
    total = 0
    for source, fmt in sources:
        if source == "-" or fmt not in ("jsonl", "txt", "csv", "tsv", "parquet"):
            return None
        if fmt == "parquet":
            import pyarrow.parquet as pq

            total += pq.ParquetFile(source).metadata.num_rows
        else:
            total += max(_lines(source) - (fmt in ("csv", "tsv")), 0)
    return total


def quiet_libraries() -> None:
    """Silence progress bars and log chatter of huggingface_hub, transformers, datasets and tokenizers.

    Environment variables cover libraries not imported yet (so ``mlnews --help`` stays fast); the
    loggers of those already imported are set directly. Explicit user settings are kept.
    """
    for key, value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"),
                       ("TRANSFORMERS_VERBOSITY", "error"), ("DATASETS_VERBOSITY", "error"),
                       ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"), ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(key, value)
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()


def _fmt_logs(logs: dict) -> str:
    skip = {"total_flos", "epoch", "train_runtime", "train_samples_per_second", "train_steps_per_second",
            "eval_runtime", "eval_samples_per_second", "eval_steps_per_second"}
    return ", ".join(f"{k.removeprefix('eval_')} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in logs.items() if k not in skip)


def trainer_progress(progress: StageProgress, *, close: bool = False) -> Any:
    """A ``transformers.TrainerCallback`` that reports training to ``progress`` (stderr), never stdout.

    Stages: ``train`` (steps, total ``max_steps``, with ETA) and ``evaluate`` (batches); each log
    (loss, learning rate) and each evaluation (validation metrics) becomes one stderr line. Use
    :func:`hook_trainer` to install it in place of the Trainer's stdout printers.
    """
    from transformers import TrainerCallback

    class _TrainerProgress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                progress.start("train", total=state.max_steps, unit="steps")
                progress.update("train", completed=state.global_step)  # resumed runs start past 0

        def on_step_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                progress.update("train", completed=state.global_step, total=state.max_steps)

        def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
            if state.is_world_process_zero:
                if "evaluate" not in progress.stages:
                    total = len(eval_dataloader) if hasattr(eval_dataloader, "__len__") else None
                    progress.start("evaluate", total=total, unit="batches", nested=True)
                progress.advance("evaluate", 1)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if state.is_world_process_zero:
                if "evaluate" in progress.stages:
                    progress.finish("evaluate")
                    progress.forget("evaluate")  # the next evaluation gets a fresh bar
                progress.note(f"step {state.global_step}: validation {_fmt_logs(metrics or {})}")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs and not any(k.startswith("eval_") for k in logs):
                progress.note(f"step {state.global_step}/{state.max_steps}: {_fmt_logs(logs)}")

        def on_train_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                progress.finish("train")
                if close:
                    progress.close()

    return _TrainerProgress()


def hook_trainer(trainer: Any, progress: Optional[StageProgress] = None) -> Any:
    """Replace the Trainer's stdout printers (tqdm bars, log dicts) by :func:`trainer_progress`.

    Without ``progress``, a ``StageProgress("mlnews train")`` is made and closed when training
    ends (``disable_tqdm`` is not consulted: it follows the log level, which the CLI sets to errors).
    Returns the trainer.
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    own = progress is None
    if own:
        progress = StageProgress("mlnews train", summary=False)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(trainer_progress(progress, close=own))
    return trainer
