"""Train a topic classifier from one config: a transformer via the HF ``Trainer``, or TF-IDF.

``train(config_path, out_dir, overrides, resume)`` is what ``mlnews train`` calls for
``task: classification``. It

1. loads the dataset named by ``data.path`` (a folder from ``mlnews data build`` or a data config,
   built and cached by :func:`mlnews.data.ensure_dataset`), filters/caps training rows as configured
   (every dropped row is counted in the report), and composes model inputs with
   :func:`mlnews.text.compose_text` (plus the model's input prefix, ``"query: "`` for e5);
2. trains (``model.kind: transformer`` here, ``tfidf`` in :mod:`mlnews.train.tfidf`);
3. fits temperature scaling on the validation split (``train.calibrate``, :mod:`mlnews.train.calibrate`;
   stored in ``mlnews.json`` ``calibration`` and applied by every backend), then
   evaluates on the test split and writes the model folder described in ``docs/ARCHITECTURE.md``:
   weights, ``mlnews.json``, ``train_config.yaml``, ``metrics.json``, confusion matrix, ``README.md``.
   ``mlnews.json`` is written last, so a folder without it is an unfinished run.

Transformer checkpoints go to ``OUT/checkpoints``; ``resume=True`` continues from the last one
(the label set must match). They are deleted after a run that completes, unless
``train.keep_checkpoints`` is set.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mlnews.config import config_file, dump_yaml, resolve_path
from mlnews.errors import ConfigError, MlnewsError
from mlnews.evaluate.classifier import evaluate_classifier
from mlnews.evaluate.metrics import macro_f1_codes
from mlnews.io import temp_dir, write_json, write_text
from mlnews.modelfolder import CARD, CHECKPOINTS, CONFIG, InputSpec, Manifest, ModelFolder
from mlnews.train.config import (ENCODER_KINDS, ClassifierConfig, language_row_weights, load_classifier_config,
                                 resolve_class_weights)
from mlnews.train.inputs import PreparedData, SplitData, data_summary, prepare_data
from mlnews.train.trainer import attach, time_limit_callback
from mlnews.types import LabelSet

log = logging.getLogger(__name__)

LABELS_FILE = "labels.json"  # inside OUT/checkpoints: the label set the checkpoints were trained with


# --------------------------------------------------------------------------------------------- model


def resolve_model(name_or_path: str) -> tuple[Path, str, str | None]:
    """``(folder, input_prefix, alias)`` for ``model.name_or_path`` via :func:`mlnews.models.resolve`."""
    from mlnews.models import resolve

    r = resolve(name_or_path)
    return Path(r.path), r.input_prefix, r.alias


def apply_freezing(model: Any, freeze_embeddings: bool, freeze_layers: int) -> dict[str, int]:
    """Freeze the embeddings and/or the lowest ``freeze_layers`` encoder layers; returns parameter counts."""
    base = model.base_model
    if freeze_embeddings:
        emb = getattr(base, "embeddings", None)
        if emb is None:
            raise ConfigError("model.freeze_embeddings: this architecture has no .embeddings module")
        for p in emb.parameters():
            p.requires_grad = False
    if freeze_layers:
        layers = getattr(getattr(base, "encoder", None), "layer", None)
        if layers is None:
            raise ConfigError("model.freeze_layers: this architecture has no encoder.layer list; use 0")
        if freeze_layers > len(layers):
            raise ConfigError(f"model.freeze_layers: {freeze_layers} > the model's {len(layers)} layers")
        for layer in layers[:freeze_layers]:
            for p in layer.parameters():
                p.requires_grad = False
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


def _checkpoint_labels_check(ckpt_root: Path, labels: LabelSet, resume: bool) -> str | None:
    """Return the checkpoint to resume from (or None), after checking the label set matches."""
    from mlnews.train.trainer import last_checkpoint

    last = last_checkpoint(ckpt_root)  # the newest complete one: a checkpoint torn by a kill is skipped
    if not resume:
        return None
    if last is None:
        raise MlnewsError(f"{ckpt_root}: no checkpoint to resume from; run without --resume to start afresh")
    import json

    saved = ckpt_root / LABELS_FILE
    old = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else None
    if old is not None and old != labels.names:
        raise ConfigError(
            f"labels: the dataset's label set {labels.names} differs from the checkpoint's {old}; "
            "resume needs the same labels (train into a new --out instead)"
        )
    return last


def _move_into(staging: Path, out_dir: Path) -> None:
    for item in staging.iterdir():
        target = out_dir / item.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(item, target)
    staging.rmdir()


def train_transformer(
    cfg: ClassifierConfig,
    data: PreparedData,
    out_dir: Path,
    *,
    model_path: Path,
    resume: bool,
    callbacks: list | None = None,
) -> dict[str, Any]:
    """Fine-tune ``AutoModelForSequenceClassification`` with the HF Trainer; returns training info."""
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        TrainingArguments,
    )

    t = cfg.train
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    labels = data.labels
    ckpt_root = out_dir / CHECKPOINTS
    resume_from = _checkpoint_labels_check(ckpt_root, labels, resume)
    ckpt_root.mkdir(parents=True, exist_ok=True)
    write_json(ckpt_root / LABELS_FILE, labels.names)

    extra: dict[str, Any] = {}
    if cfg.model.dropout is not None:
        extra = {"hidden_dropout_prob": cfg.model.dropout, "attention_probs_dropout_prob": cfg.model.dropout}
    torch.manual_seed(t.seed)  # the new classification head is initialised from this seed
    distill = cfg.distill if cfg.distill.teacher else None
    kept: list[int] | None = None
    if distill is not None:  # the student is the teacher with fewer layers (mlnews.train.distill)
        from mlnews.train.distill import make_student, open_teacher, student_source
        from mlnews.train.distill_texts import soft_label_texts

        prefix = open_teacher(model_path, labels.names).manifest.input.prefix
        extra_inputs, texts_report = soft_label_texts(cfg, data, prefix)
        with temp_dir("mlnews-student-vocab") as scratch:  # loaded, then removed
            source, vocab_report = student_source(cfg, data, model_path, extra_inputs, scratch)
            tokenizer = AutoTokenizer.from_pretrained(source)
            model, kept = make_student(source, distill.layers, **extra)
        if vocab_report:
            texts_report["vocab"] = vocab_report
    else:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForSequenceClassification.from_pretrained(
            model_path,
            num_labels=len(labels),
            id2label=dict(labels.id2label),
            label2id=dict(labels.label2id),
            **extra,
        )
    params = apply_freezing(model, cfg.model.freeze_embeddings, cfg.model.freeze_layers)
    weights = resolve_class_weights(t.class_weights, labels, data.splits["train"].labels)

    def to_dataset(split: SplitData) -> Dataset:
        ds = Dataset.from_dict({"text": split.inputs, "label": [labels.encode(x) for x in split.labels]})
        return ds.map(
            lambda b: tokenizer(b["text"], truncation=True, max_length=cfg.model.max_length),
            batched=True,
            remove_columns=["text"],
        )

    train_ds = to_dataset(data.splits["train"])
    eval_ds = to_dataset(data.splits["validation"])
    distill_report: dict[str, Any] | None = None
    teacher_states = None
    if distill is not None:
        train_ds, distill_report, teacher_states, teacher_validation = _distill_dataset(
            cfg, data, train_ds, model_path, tokenizer, kept, extra_inputs, texts_report)
    if t.balance_languages:  # per-row weights replace the class weights (unlabelled distillation rows: 1, unused)
        split = data.splits["train"]
        rows = language_row_weights(t.class_weights, labels, split.labels, split.langs)
        train_ds = train_ds.add_column("loss_weight", rows + [1.0] * (len(train_ds) - len(rows)))
        weights = None

    def compute_metrics(pred: Any) -> dict[str, float]:
        y = np.asarray(pred.label_ids)
        p = np.asarray(pred.predictions).argmax(-1)
        return {"accuracy": float((y == p).mean()) if len(y) else 0.0,
                "macro_f1": macro_f1_codes(y, p, len(labels))}

    strategy = t.eval_strategy
    args = TrainingArguments(
        output_dir=str(ckpt_root),
        **t.trainer_kwargs(),
        data_seed=t.seed,
        eval_strategy=strategy,
        save_strategy=strategy,
        eval_steps=t.eval_steps if strategy == "steps" else None,
        save_steps=t.eval_steps if strategy == "steps" else None,
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        use_cpu=not torch.cuda.is_available(),
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        # keep the teacher_logits / loss_weight columns for the loss
        remove_unused_columns=distill is None and not t.balance_languages,
    )
    cbs = list(callbacks or [])
    limit = time_limit_callback(t.time_limit_minutes) if t.time_limit_minutes else None
    if limit:
        cbs.append(limit)
    if t.early_stopping_patience > 0:
        cbs.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))
    trainer = WeightedTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        callbacks=cbs,
        class_weights=weights,
        distill=(distill.temperature, distill.alpha, distill.hidden_weight) if distill is not None else None,
        teacher_states=teacher_states,
    )
    attach(trainer, out_dir)  # progress on stderr; TensorBoard events in OUT/runs
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - start
    state = trainer.state
    completed = state.global_step >= state.max_steps or any(
        isinstance(cb, EarlyStoppingCallback) and cb.early_stopping_patience_counter >= cb.early_stopping_patience
        for cb in trainer.callback_handler.callbacks
    )

    val_metrics = trainer.evaluate()  # the best model (load_best_model_at_end restored it)
    if distill is not None and len(eval_ds):  # how faithfully the student copies its teacher on validation
        distill_report["validation_fidelity"] = _validation_fidelity(trainer, tokenizer, data, teacher_validation,
                                                                     cfg)

    staging = out_dir / ".final.tmp"
    main = trainer.is_world_process_zero()  # several processes under torchrun / accelerate launch
    if main and staging.exists():
        shutil.rmtree(staging)
    trainer.accelerator.wait_for_everyone()
    tokenizer.model_max_length = cfg.model.max_length  # the saved tokenizer truncates as the model was trained
    trainer.save_model(str(staging))  # safetensors + config.json (id2label/label2id) + tokenizer; main process writes
    trainer.accelerator.wait_for_everyone()
    if main:
        for stray in ("training_args.bin",):  # a pickle written by the Trainer: never ship it
            (staging / stray).unlink(missing_ok=True)
        _move_into(staging, out_dir)
        if completed and not t.keep_checkpoints:
            shutil.rmtree(ckpt_root, ignore_errors=True)
    return {
        "main_process": main,
        "processes": trainer.args.world_size,
        "train_seconds": round(seconds, 1),
        "global_step": state.global_step,
        "epochs": round(float(state.epoch or 0.0), 2),  # epochs actually run (early stopping, max_steps, time limit)
        "completed": completed,
        "stopped_by_time_limit": bool(limit and limit.hit),
        "best_checkpoint": state.best_model_checkpoint,
        "best_validation_macro_f1": state.best_metric,
        "validation": {"accuracy": round(val_metrics.get("eval_accuracy", 0.0), 4),
                       "macro_f1": round(val_metrics.get("eval_macro_f1", 0.0), 4)},
        "train_loss": round(float(result.training_loss), 4),
        "parameters": params,
        "class_weights": weights,
        "log_history": state.log_history,
        **({"distill": {"teacher": str(model_path), "layers_kept": kept, **distill_report}} if distill is not None else {}),
    }


def _validation_fidelity(trainer: Any, tokenizer: Any, data: PreparedData, teacher_labels: np.ndarray,
                         cfg: ClassifierConfig) -> dict[str, dict[str, float]]:
    """:func:`mlnews.train.distill.fidelity` of the trained student on the validation split, per language, against
    ``teacher_labels`` (the teacher's top label ids of the validation rows, from the soft-label pass)."""
    from mlnews.train.distill import fidelity, model_logits

    split = data.splits["validation"]
    # the student's own pass in row order (the Trainer's evaluation loader may group rows by length)
    student, _ = model_logits(trainer.model, tokenizer, list(split.inputs), max_length=cfg.model.max_length,
                              batch_size=cfg.train.eval_batch_size)
    return fidelity(teacher_labels, student.argmax(1), split.langs, trainer.model.config.num_labels)


def _distill_dataset(cfg: ClassifierConfig, data: PreparedData, train_ds: Any, teacher_dir: Path,
                     tokenizer: Any, kept: Sequence[int], extra_inputs: list[str], texts_report: dict[str, Any]
                     ) -> tuple[Any, dict[str, Any], Any, np.ndarray]:
    """The training set with the teacher's logits on every row, plus the unlabelled rows (``extra_inputs``,
    from :func:`mlnews.train.distill_texts.soft_label_texts`; label -100), its report (``texts_report`` merged
    in), the teacher's :class:`~mlnews.train.distill.TeacherStates` (None without ``distill.hidden_weight``),
    which the training set's ``distill_row`` column indexes, and the teacher's top label ids of the validation
    rows (for :func:`_validation_fidelity`; one teacher load serves both)."""
    from datasets import Dataset, concatenate_datasets

    from mlnews.train.distill import UNLABELLED, load_classifier, model_logits

    d = cfg.distill
    teacher = ModelFolder.open(teacher_dir, task="classification").manifest
    texts = list(data.splits["train"].inputs) + extra_inputs
    teacher_model, teacher_tokenizer = load_classifier(teacher_dir)
    logits, states = model_logits(teacher_model, teacher_tokenizer, texts, max_length=teacher.input.max_length,
                                  batch_size=cfg.train.eval_batch_size, layers=kept if d.hidden_weight else (),
                                  token_length=cfg.model.max_length if d.hidden_tokens == "all" else None,
                                  progress="teacher soft labels")
    validation, _ = model_logits(teacher_model, teacher_tokenizer, list(data.splits["validation"].inputs),
                                 max_length=teacher.input.max_length, batch_size=cfg.train.eval_batch_size)
    del teacher_model
    n = len(train_ds)
    train_ds = train_ds.add_column("teacher_logits", [row.tolist() for row in logits[:n]])
    if states is not None:  # the states stay in one array; a row's index points into it (mlnews.train.distill)
        train_ds = train_ds.add_column("distill_row", list(range(n)))
    if extra_inputs:
        columns = {"text": extra_inputs, "label": [UNLABELLED] * len(extra_inputs),
                   "teacher_logits": [row.tolist() for row in logits[n:]]}
        if states is not None:
            columns["distill_row"] = list(range(n, n + len(extra_inputs)))
        extra = Dataset.from_dict(columns)
        extra = extra.map(lambda b: tokenizer(b["text"], truncation=True, max_length=cfg.model.max_length),
                          batched=True, remove_columns=["text"])
        train_ds = concatenate_datasets([train_ds, extra.cast(train_ds.features)])
    agree = float((logits[:n].argmax(1) == np.asarray(train_ds["label"][:n])).mean()) if n else 0.0
    report = {"labelled_rows": n, **texts_report, "teacher_train_accuracy": round(agree, 4),
              "temperature": d.temperature, "alpha": d.alpha, "hidden_weight": d.hidden_weight,
              **({"hidden_tokens": d.hidden_tokens} if d.hidden_weight else {})}
    log.info("distillation: %d labelled + %d unlabelled rows with the teacher's soft labels (teacher accuracy on "
             "the labelled rows %.3f)", n, len(extra_inputs), agree)
    return train_ds, report, states, validation.argmax(1)


def _weighted_trainer_cls():
    from transformers import Trainer

    class _WeightedTrainer(Trainer):
        """Trainer whose loss is cross-entropy with per-class weights (a per-batch weighted mean)."""

        loss_is_scaled_for_ga = False  # our loss is a batch mean: let the Trainer divide by GA steps

        def __init__(self, *args: Any, class_weights: list[float] | None = None,
                     distill: tuple[float, float, float] | None = None, teacher_states: Any = None,
                     **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._class_weights = class_weights
            self._distill = distill  # (temperature, alpha, hidden_weight) of mlnews.train.distill
            self._teacher_states = teacher_states  # mlnews.train.distill.TeacherStates, indexed by distill_row

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: D102
            import torch

            labels = inputs.pop("labels")
            teacher = inputs.pop("teacher_logits", None)  # training batches of a distillation run only
            row_weight = inputs.pop("loss_weight", None)  # training batches with train.balance_languages only
            rows = inputs.pop("distill_row", None)  # distillation with distill.hidden_weight only
            states = mask = None
            if rows is not None and self._teacher_states is not None:
                states, mask = self._teacher_states.batch(rows, inputs["input_ids"], inputs["attention_mask"])
                states = states.to(model.device)
                mask = mask.to(model.device) if mask is not None else None
            outputs = model(**inputs, **({"output_hidden_states": True} if states is not None else {}))
            logits = outputs.logits
            hard = labels.view(-1) >= 0  # unlabelled rows (-100) of a distillation run have soft labels only
            if hard.any():
                y = labels.view(-1)[hard]
                ce = torch.nn.functional.cross_entropy(logits[hard], y, reduction="none")
                # the weighted mean sum(w * ce) / sum(w): per-row weights (train.balance_languages), else per class
                if row_weight is not None:
                    w = row_weight.view(-1)[hard].to(logits.dtype)
                elif self._class_weights is not None:
                    w = torch.tensor(self._class_weights, dtype=logits.dtype, device=logits.device)[y]
                else:
                    w = None
                loss = ce.mean() if w is None else (ce * w).sum() / w.sum()
            else:
                loss = logits.sum() * 0.0
            if teacher is not None and self._distill is not None:
                from mlnews.train.distill import soft_label_loss

                temperature, alpha, hidden_weight = self._distill
                soft = soft_label_loss(logits, teacher, temperature).mean()
                loss = alpha * loss + (1 - alpha) * soft if hard.any() else soft
                if states is not None and hidden_weight:
                    from mlnews.train.distill import hidden_state_loss

                    loss = loss + hidden_weight * hidden_state_loss(outputs.hidden_states, states, mask).mean()
            return (loss, outputs) if return_outputs else loss

    return _WeightedTrainer


def WeightedTrainer(*args: Any, **kwargs: Any):  # noqa: N802 - factory that looks like the class
    """Build the class-weighted Trainer (transformers is imported lazily)."""
    return _weighted_trainer_cls()(*args, **kwargs)


# --------------------------------------------------------------------------------------------- entry


def _process_rank() -> int:
    """This process's rank in a ``torchrun`` / ``accelerate launch`` run (0 when run alone)."""
    return int(os.environ.get("RANK", "0"))


def _barrier() -> None:
    """Wait for every process of a multi-process run (no-op when run alone)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def train_from_config(
    cfg: ClassifierConfig,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    callbacks: list | None = None,
) -> Path:
    """Train ``cfg`` into ``out_dir`` and write every artefact; returns the model folder."""
    from mlnews.train import card

    out_dir = Path(out_dir)
    kind = cfg.model.kind
    folder = ModelFolder(out_dir)
    if _process_rank() == 0:  # other ranks of a multi-process run would see the main one's first files
        folder = ModelFolder.prepare(out_dir, resume=resume, checkpoints=kind == "transformer")
    base_model: str | None
    if kind in ENCODER_KINDS:
        if cfg.distill.teacher:  # the student starts from the teacher (checked: a finished classifier folder)
            from mlnews.train.distill import open_teacher

            cfg.distill.teacher = str(resolve_path(cfg.distill.teacher, config_file(cfg)))
            open_teacher(cfg.distill.teacher)
        model_path, prefix, alias = resolve_model(cfg.distill.teacher or cfg.model.name_or_path)
        if cfg.model.input_prefix is not None:
            prefix = cfg.model.input_prefix
        base_model = alias or cfg.model.name_or_path
    else:
        model_path, prefix, base_model = None, cfg.model.input_prefix or "", None
    data = prepare_data(cfg, prefix)
    out_dir.mkdir(parents=True, exist_ok=True)
    if kind == "transformer":
        info = train_transformer(cfg, data, out_dir, model_path=model_path, resume=resume, callbacks=callbacks)
        if not info["main_process"]:  # the main process writes the model folder; wait until it is complete
            _barrier()
            return out_dir
    else:
        if resume:
            log.info("--resume: model.kind %s has no checkpoints; it trains in seconds to minutes, so it is "
                     "trained again", kind)
        if kind == "embedding":
            from mlnews.train.embedding import train_embedding

            info = train_embedding(cfg, data, out_dir, model_path=model_path)
        elif kind == "static":
            from mlnews.train.static import train_static

            info = train_static(cfg, data, out_dir, model_path=model_path)
        else:
            from mlnews.train.tfidf import train_tfidf

            info = train_tfidf(cfg, data, out_dir)

    test = data.splits["test"]
    manifest = Manifest.new(
        task="classification",
        kind=kind,
        labels=data.labels.names,
        input=InputSpec(prefix=prefix, max_length=cfg.model.max_length, use_lead=cfg.data.use_lead,
                        body_chars=cfg.data.body_chars),
        base_model=base_model,
        taxonomy=data.taxonomy,
    )
    if cfg.train.calibrate:  # before the test split is scored, so the test numbers are the calibrated model's
        from mlnews.train.calibrate import calibrate

        manifest.extra["calibration"] = calibrate(ModelFolder(out_dir, manifest), data.splits["validation"].rows(),
                                                  split=cfg.data.validation_split, batch_size=cfg.train.eval_batch_size)
    # The test split is scored by the Classifier users load (manifest in memory: mlnews.json comes last).
    extra = {
        "split": cfg.data.test_split,
        "dataset": str(data.dataset_dir),
        "validation": info.get("validation"),
        "train_seconds": info["train_seconds"],
        "processes": info.get("processes", 1),  # torchrun / accelerate launch: the effective batch scales with it
        "data_report": data.report,
    }
    fidelity = (info.get("distill") or {}).get("validation_fidelity")
    if fidelity:  # a distilled student: its validation agreement with the teacher, per language
        extra["validation_fidelity"] = fidelity
    texts = {k: v for k, v in (info.get("distill") or {}).items() if k in ("unlabelled", "sentences", "files", "vocab")}
    if texts:  # what each soft-label text source read, used and left out (mlnews.train.distill_texts)
        extra["distill_texts"] = texts
    m = evaluate_classifier(ModelFolder(out_dir, manifest), test.rows(), out_dir, batch_size=cfg.train.eval_batch_size, source_name=f"{data.dataset_dir}:{cfg.data.test_split}",
                            extra=extra, title=f"{kind} - {cfg.data.test_split}")
    write_text(folder.file(CONFIG), dump_yaml(cfg))
    training = {k: v for k, v in info.items() if k != "log_history"}
    write_text(folder.file(CARD), card.render_classifier_card(
        manifest.to_dict(), cfg, data_summary(data), data.report, m, training, model_dir=str(out_dir)))
    folder.finish(manifest)  # last: its presence marks a finished model folder
    _barrier()
    return out_dir


def train(config_path: str | os.PathLike, out_dir: str | os.PathLike, overrides: Sequence[str] = (), resume: bool = False) -> Path:
    """``mlnews train`` for ``task: classification``."""
    cfg = load_classifier_config(config_path, list(overrides))
    return train_from_config(cfg, out_dir, resume=resume)
