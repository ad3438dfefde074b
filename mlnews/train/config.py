"""Config dataclasses for ``mlnews train`` (shared sections reused by the summariser).

A training config is one YAML file::

    task: classification
    data:  {path: configs/data/default.yaml, use_lead: true, body_chars: 300}
    model: {kind: transformer, name_or_path: e5-small, max_length: 64, freeze_embeddings: true}
    train: {epochs: 2, learning_rate: 5.0e-5, batch_size: 32, seed: 13}

Load it with :func:`load_classifier_config` (unknown keys, wrong types and impossible values are
one-line :class:`~mlnews.errors.ConfigError` messages naming the key). :func:`read_task` reads only the
``task`` key so the CLI can dispatch before choosing a schema.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from collections import Counter
from typing import TYPE_CHECKING, Any, Literal, Optional, Sequence, Union

from mlnews.config import load_config, load_yaml
from mlnews.errors import ConfigError

if TYPE_CHECKING:
    from mlnews.types import LabelSet

TASKS = ("classification", "summarisation")


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@dataclass
class DataSection:
    """Where the examples come from and how a model input is composed from them.

    ``path`` is a dataset folder written by ``mlnews data build`` or a data config
    (``configs/data/*.yaml``), which is then built once and cached (``mlnews.data.ensure_dataset``).
    Input text = ``compose_text(text, lead, body, use_lead=..., body_chars=...)``: the headline, or the
    article title + lead + the first ``body_chars`` characters of the body.
    """

    path: str = "configs/data/default.yaml"
    use_lead: bool = True
    body_chars: int = 300
    train_split: str = "train"
    validation_split: str = "validation"
    test_split: str = "test"
    label_origins: list[str] = field(default_factory=list)  # train only on these origins; [] = all
    min_confidence: float = 0.0  # drop training rows below this label confidence (counted, reported)
    max_train_examples: Optional[int] = None  # stratified cap on training rows (CPU budget); null = all

    def validate(self, prefix: str = "") -> None:
        if not self.path:
            raise ConfigError(f"{_key(prefix, 'path')}: must name a dataset folder or a data config")
        if self.body_chars < 0:
            raise ConfigError(f"{_key(prefix, 'body_chars')}: expected >= 0, got {self.body_chars}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"{_key(prefix, 'min_confidence')}: expected 0..1, got {self.min_confidence}")
        if self.max_train_examples is not None and self.max_train_examples < 1:
            raise ConfigError(f"{_key(prefix, 'max_train_examples')}: expected >= 1 or null")
        bad = [o for o in self.label_origins if o not in ("gold", "source_rubric", "weak")]
        if bad:
            raise ConfigError(
                f"{_key(prefix, 'label_origins')}: {bad[0]!r} is not allowed; expected gold, source_rubric, weak"
            )


@dataclass
class ModelSection:
    """Which model to train.

    ``kind``: ``transformer`` (AutoModelForSequenceClassification), ``tfidf`` (scikit-learn) or
    ``seq2seq`` (summariser). ``name_or_path``: a short alias (``e5-small``), a local folder or a hub id.
    ``input_prefix``: null = the resolved model's own prefix (``"query: "`` for e5).
    """

    kind: Literal["transformer", "tfidf", "seq2seq"] = "transformer"
    name_or_path: str = "e5-small"
    max_length: int = 128
    freeze_embeddings: bool = False
    freeze_layers: int = 0  # freeze the lowest N encoder layers
    input_prefix: Optional[str] = None
    dropout: Optional[float] = None  # override hidden/attention dropout; null = the model's own

    def validate(self, prefix: str = "") -> None:
        if self.max_length < 8:
            raise ConfigError(f"{_key(prefix, 'max_length')}: expected >= 8, got {self.max_length}")
        if self.freeze_layers < 0:
            raise ConfigError(f"{_key(prefix, 'freeze_layers')}: expected >= 0, got {self.freeze_layers}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{_key(prefix, 'dropout')}: expected 0 <= dropout < 1, got {self.dropout}")


@dataclass
class TrainSection:
    """Optimisation settings (mapped onto ``transformers.TrainingArguments``)."""

    epochs: float = 3.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    eval_batch_size: int = 64
    gradient_accumulation_steps: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    lr_scheduler_type: str = "linear"
    seed: int = 42
    max_steps: int = -1  # -1 = use epochs
    eval_strategy: Literal["epoch", "steps"] = "epoch"
    eval_steps: int = 0  # with eval_strategy=steps
    early_stopping_patience: int = 0  # evaluations without macro-F1 gain before stopping; 0 = off
    class_weights: Union[Literal["none", "balanced", "sqrt_balanced"], dict[str, float]] = "none"
    logging_steps: int = 50
    eval_max_examples: Optional[int] = None  # stratified cap on validation rows used during training
    save_total_limit: int = 2
    keep_checkpoints: bool = False  # keep OUT/checkpoints after a run that completes
    num_threads: Optional[int] = None  # torch.set_num_threads; null = leave torch's default
    group_by_length: bool = False  # batch inputs of similar length together (much less padding on CPU)

    def trainer_kwargs(self) -> dict:
        """The ``TrainingArguments`` fields both trainers (classifier, summariser) take from this section."""
        return dict(
            num_train_epochs=self.epochs,
            max_steps=self.max_steps,
            learning_rate=self.learning_rate,
            per_device_train_batch_size=self.batch_size,
            per_device_eval_batch_size=self.eval_batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            warmup_steps=float(self.warmup_ratio),  # transformers 5: a float < 1 is a ratio
            weight_decay=self.weight_decay,
            lr_scheduler_type=self.lr_scheduler_type,
            seed=self.seed,
            save_total_limit=self.save_total_limit,
            logging_steps=self.logging_steps,
            report_to="none",
            dataloader_num_workers=0,
        )

    def validate(self, prefix: str = "") -> None:
        positive = {
            "batch_size": self.batch_size,
            "eval_batch_size": self.eval_batch_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "logging_steps": self.logging_steps,
            "save_total_limit": self.save_total_limit,
        }
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"{_key(prefix, name)}: expected >= 1, got {value}")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ConfigError(f"{_key(prefix, 'epochs')}: expected > 0 (or set max_steps), got {self.epochs}")
        if self.learning_rate <= 0:
            raise ConfigError(f"{_key(prefix, 'learning_rate')}: expected > 0, got {self.learning_rate}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"{_key(prefix, 'warmup_ratio')}: expected 0 <= x < 1, got {self.warmup_ratio}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(f"{_key(prefix, 'max_steps')}: expected -1 (use epochs) or >= 1, got {self.max_steps}")
        if self.eval_strategy == "steps" and self.eval_steps < 1:
            raise ConfigError(f"{_key(prefix, 'eval_steps')}: expected >= 1 with eval_strategy: steps")
        if self.early_stopping_patience < 0:
            raise ConfigError(f"{_key(prefix, 'early_stopping_patience')}: expected >= 0")
        if self.eval_max_examples is not None and self.eval_max_examples < 1:
            raise ConfigError(f"{_key(prefix, 'eval_max_examples')}: expected >= 1 or null")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"{_key(prefix, 'num_threads')}: expected >= 1 or null")
        if isinstance(self.class_weights, dict):
            for label, w in self.class_weights.items():
                if w <= 0:
                    raise ConfigError(f"{_key(prefix, 'class_weights')}.{label}: expected a weight > 0, got {w}")


@dataclass
class TfidfSection:
    """Word + character n-gram TF-IDF with logistic regression (``model.kind: tfidf``)."""

    word_ngram_max: int = 2
    char_ngram_min: int = 2
    char_ngram_max: int = 5
    min_df: int = 1
    max_features: Optional[int] = 200_000  # per vectoriser; null = unlimited
    sublinear_tf: bool = True
    C: float = 4.0
    max_iter: int = 2000

    def validate(self, prefix: str = "") -> None:
        if self.word_ngram_max < 1:
            raise ConfigError(f"{_key(prefix, 'word_ngram_max')}: expected >= 1, got {self.word_ngram_max}")
        if not 1 <= self.char_ngram_min <= self.char_ngram_max:
            raise ConfigError(
                f"{_key(prefix, 'char_ngram_min')}: expected 1 <= char_ngram_min <= char_ngram_max, "
                f"got {self.char_ngram_min}..{self.char_ngram_max}"
            )
        if self.min_df < 1:
            raise ConfigError(f"{_key(prefix, 'min_df')}: expected >= 1, got {self.min_df}")
        if self.C <= 0:
            raise ConfigError(f"{_key(prefix, 'C')}: expected > 0, got {self.C}")


@dataclass
class ClassifierConfig:
    """A complete ``task: classification`` training config."""

    task: Literal["classification"] = "classification"
    description: str = ""  # free text, shown in the model card
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    tfidf: TfidfSection = field(default_factory=TfidfSection)

    def validate(self, prefix: str = "") -> None:
        if self.model.kind not in ("transformer", "tfidf"):
            raise ConfigError(
                f"{_key(prefix, 'model.kind')}: {self.model.kind!r} is not allowed for task classification; "
                "expected 'transformer' or 'tfidf'"
            )


def read_task(path: str | os.PathLike) -> str:
    """Read only the ``task`` key of a training config (to pick the right schema and trainer)."""
    data = load_yaml(path)
    task = data.get("task")
    if task is None:
        raise ConfigError(f"{path}: task: required key is missing (expected one of {', '.join(TASKS)})")
    if task not in TASKS:
        raise ConfigError(f"{path}: task: {task!r} is not allowed; expected one of {', '.join(TASKS)}")
    return str(task)


def load_classifier_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> ClassifierConfig:
    """Load and validate a classification config with ``key=value`` overrides."""
    return load_config(Path(path), ClassifierConfig, list(overrides))


def resolve_class_weights(cfg_weights: Any, labels: "LabelSet", train_labels: Sequence[str]) -> list[float] | None:
    """``train.class_weights`` as loss weights in label order (both trainers use this).

    ``none`` -> None; ``balanced`` -> n / (k * count) over the k labels present in training (scikit-learn's
    formula); ``sqrt_balanced`` -> its square root, a milder push towards rare labels; a mapping gives
    explicit weights (unlisted labels 1.0; a key that is not a label is an error naming it).
    """
    if cfg_weights == "none":
        return None
    if cfg_weights in ("balanced", "sqrt_balanced"):
        power = 1.0 if cfg_weights == "balanced" else 0.5
        counts = Counter(train_labels)
        present = [n for n in labels.names if counts[n]]
        total = sum(counts[n] for n in present)
        return [(total / (len(present) * counts[n])) ** power if counts[n] else 1.0 for n in labels.names]
    unknown = [k for k in cfg_weights if k not in labels]
    if unknown:
        raise ConfigError(f"train.class_weights.{unknown[0]}: not a label of this dataset; labels are {', '.join(labels.names)}")
    return [float(cfg_weights.get(n, 1.0)) for n in labels.names]
