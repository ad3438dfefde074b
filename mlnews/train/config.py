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

from mlnews.config import check_applicable, load_config, load_yaml, option
from mlnews.errors import ConfigError

if TYPE_CHECKING:
    from mlnews.types import LabelSet

TASKS = ("classification", "summarisation")


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


CLASSIFIER_KINDS = ("transformer", "tfidf", "embedding", "static")
ENCODER_KINDS = ("transformer", "embedding", "static")  # kinds built from an encoder (model.name_or_path applies)
HEAD_KINDS = ("embedding", "static")  # kinds with a scikit-learn head over fixed features (the head section)
TRAINER_KINDS = ("transformer", "seq2seq", "extractive")  # kinds trained by the HF Trainer (optimiser keys apply)


@dataclass
class DataSection:
    """Where the examples come from and how a model input is composed from them.

    ``path`` is a dataset folder written by ``mlnews data build`` or a data config
    (``configs/data/*.yaml``), which is then built once and cached (``mlnews.data.ensure_dataset``);
    a relative path follows the one path rule (:class:`mlnews.config.PathResolver`).
    Input text = ``compose_text(text, lead, body, use_lead=..., body_chars=...)``: the headline, or the
    article title + lead + the first ``body_chars`` characters of the body.
    """

    path: str = "configs/data/default.yaml"
    use_lead: bool = True
    body_chars: int = option(300, ge=0)
    train_split: str = "train"
    validation_split: str = "validation"
    test_split: str = "test"
    label_origins: list[Literal["gold", "source_rubric", "weak", "reviewed", "pseudo"]] = field(default_factory=list)  # train only on these; [] = all
    min_confidence: float = option(0.0, ge=0.0, le=1.0)  # drop training rows below this label confidence (reported)
    max_train_examples: Optional[int] = option(None, ge=1)  # stratified cap on training rows (CPU budget); null = all

    def validate(self, prefix: str = "") -> None:
        if not self.path:
            raise ConfigError(f"{_key(prefix, 'path')}: must name a dataset folder or a data config")


@dataclass
class ModelSection:
    """Which classifier to train.

    ``kind``: ``transformer`` (AutoModelForSequenceClassification, fine-tuned), ``tfidf`` (scikit-learn;
    then only ``kind`` applies here, the n-gram settings are in the ``tfidf`` section), ``embedding``
    (the encoder frozen and mean-pooled, a logistic-regression ``head``) or ``static`` (static token
    embeddings distilled from the encoder, mean-pooled, a logistic-regression ``head``). ``name_or_path``: a short
    alias (``e5-small``), a local folder or a hub id. ``input_prefix``: null = the resolved model's own
    prefix (``"query: "`` for e5).
    """

    kind: str = "transformer"
    name_or_path: str = option("e5-small", kinds=ENCODER_KINDS)
    max_length: int = option(128, ge=8, kinds=ENCODER_KINDS)
    freeze_embeddings: bool = option(False, kinds=("transformer",))
    freeze_layers: int = option(0, ge=0, kinds=("transformer",))  # freeze the lowest N encoder layers
    input_prefix: Optional[str] = None
    dropout: Optional[float] = option(None, ge=0.0, lt=1.0, kinds=("transformer",))  # null = the model's own

    def validate(self, prefix: str = "") -> None:
        if self.kind not in CLASSIFIER_KINDS:
            raise ConfigError(
                f"{_key(prefix, 'kind')}: {self.kind!r} is not allowed for task classification; "
                f"expected one of {', '.join(CLASSIFIER_KINDS)}"
            )


@dataclass
class TrainSection:
    """Optimisation settings shared by every Trainer-based model (mapped onto ``TrainingArguments``).

    Task sections extend it (:class:`ClassifierTrainSection`); the summariser uses it as is, so a key
    exists only where it applies. ``time_limit_minutes`` stops (saving a checkpoint) once the training
    time is spent; ``--resume`` continues from the last checkpoint in ``OUT/checkpoints``.
    """

    epochs: float = option(3.0, kinds=TRAINER_KINDS)
    learning_rate: float = option(5e-5, gt=0, kinds=TRAINER_KINDS)
    batch_size: int = option(32, ge=1, kinds=TRAINER_KINDS)
    eval_batch_size: int = option(64, ge=1, kinds=TRAINER_KINDS)
    gradient_accumulation_steps: int = option(1, ge=1, kinds=TRAINER_KINDS)
    warmup_ratio: float = option(0.1, ge=0, lt=1, kinds=TRAINER_KINDS)
    weight_decay: float = option(0.01, ge=0, kinds=TRAINER_KINDS)
    lr_scheduler_type: str = option("linear", kinds=TRAINER_KINDS)
    seed: int = 42
    max_steps: int = option(-1, ge=-1, kinds=TRAINER_KINDS)  # -1 = use epochs
    eval_strategy: Literal["epoch", "steps"] = option("epoch", kinds=TRAINER_KINDS)
    eval_steps: int = option(0, ge=0, kinds=TRAINER_KINDS)  # with eval_strategy=steps
    logging_steps: int = option(50, ge=1, kinds=TRAINER_KINDS)
    save_total_limit: int = option(2, ge=1, kinds=TRAINER_KINDS)
    keep_checkpoints: bool = option(False, kinds=TRAINER_KINDS)  # keep OUT/checkpoints after a completed run
    time_limit_minutes: Optional[float] = option(None, gt=0, kinds=TRAINER_KINDS)
    num_threads: Optional[int] = option(None, ge=1, kinds=TRAINER_KINDS)  # torch.set_num_threads; null = torch's
    # experiment tracking, passed to the Trainer: tensorboard writes OUT/runs (pip install -e ".[tensorboard]")
    report_to: Literal["none", "tensorboard", "mlflow", "wandb"] = option("none", kinds=TRAINER_KINDS)
    run_name: Optional[str] = option(None, kinds=TRAINER_KINDS)  # the tracker's run name; null = the Trainer's default

    def trainer_kwargs(self) -> dict:
        """The ``TrainingArguments`` fields every trainer takes from this section."""
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
            report_to=self.report_to,
            run_name=self.run_name,
            dataloader_num_workers=0,
        )

    def validate(self, prefix: str = "") -> None:
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ConfigError(f"{_key(prefix, 'epochs')}: expected > 0 (or set max_steps), got {self.epochs}")
        if self.max_steps == 0:
            raise ConfigError(f"{_key(prefix, 'max_steps')}: expected -1 (use epochs) or >= 1, got {self.max_steps}")
        if self.eval_strategy == "steps" and self.eval_steps < 1:
            raise ConfigError(f"{_key(prefix, 'eval_steps')}: expected >= 1 with eval_strategy: steps")
        if self.report_to != "none":
            import importlib.util

            need = {"tensorboard": ("tensorboard", "tensorboardX"), "mlflow": ("mlflow",), "wandb": ("wandb",)}
            if not any(importlib.util.find_spec(m) for m in need[self.report_to]):
                hint = 'pip install -e ".[tensorboard]"' if self.report_to == "tensorboard" else f"pip install {self.report_to}"
                raise ConfigError(f"{_key(prefix, 'report_to')}: {self.report_to!r} needs the {need[self.report_to][0]} "
                                  f"package, which is not installed; {hint}")


@dataclass
class ClassifierTrainSection(TrainSection):
    """:class:`TrainSection` plus what only the classifier reads."""

    early_stopping_patience: int = option(0, ge=0, kinds=("transformer",))  # evaluations without gain; 0 = off
    class_weights: Union[Literal["none", "balanced", "sqrt_balanced"], dict[str, float]] = "none"
    # class_weights computed within each language (per-row loss weights): a language whose rows are nearly all
    # one label (Ukrainian: society) no longer teaches "this language means that label"
    balance_languages: bool = option(False, kinds=("transformer",))
    eval_max_examples: Optional[int] = option(None, ge=1, kinds=("transformer",))  # stratified cap on validation rows
    group_by_length: bool = option(False, kinds=("transformer",))  # batch similar lengths together (less padding)
    # temperature scaling fitted on the validation split after training (every kind; stored in mlnews.json)
    calibrate: bool = option(True, kinds=CLASSIFIER_KINDS)

    def validate(self, prefix: str = "") -> None:
        super().validate(prefix)
        if self.balance_languages and self.class_weights not in ("balanced", "sqrt_balanced"):
            raise ConfigError(f"{_key(prefix, 'balance_languages')}: needs class_weights balanced or sqrt_balanced "
                              f"(the weights it computes per language), got {self.class_weights!r}")
        if isinstance(self.class_weights, dict):
            for label, w in self.class_weights.items():
                if w <= 0:
                    raise ConfigError(f"{_key(prefix, 'class_weights')}.{label}: expected a weight > 0, got {w}")


@dataclass
class TfidfSection:
    """Word + character n-gram TF-IDF with logistic regression (``model.kind: tfidf``)."""

    word_ngram_max: int = option(2, ge=1)
    char_ngram_min: int = option(2, ge=1)
    char_ngram_max: int = 5
    min_df: int = option(1, ge=1)
    max_features: Optional[int] = option(200_000, ge=1)  # per vectoriser; null = unlimited
    sublinear_tf: bool = True
    C: float = option(4.0, gt=0)
    max_iter: int = option(2000, ge=1)

    def validate(self, prefix: str = "") -> None:
        if not self.char_ngram_min <= self.char_ngram_max:
            raise ConfigError(
                f"{_key(prefix, 'char_ngram_min')}: expected 1 <= char_ngram_min <= char_ngram_max, "
                f"got {self.char_ngram_min}..{self.char_ngram_max}"
            )


@dataclass
class HeadSection:
    """The scikit-learn logistic-regression head of ``model.kind: embedding`` and ``static``.

    ``C``: inverse L2 strength (smaller = stronger regularisation; the few-shot default is moderate);
    ``max_iter``: L-BFGS iterations. Class weights come from ``train.class_weights``.
    """

    C: float = option(4.0, gt=0)
    max_iter: int = option(3000, ge=1)


@dataclass
class StaticSection:
    """How ``model.kind: static`` distils its token table from the encoder (:mod:`mlnews.train.static`).

    ``vocabulary``: the pieces kept are those of the training inputs (``train``) or of every text of the
    dataset folder, all splits and article bodies (``dataset``; unlabelled, but the evaluation texts are
    among them), plus the single Latin/Cyrillic/digit/punctuation characters. ``pca_dims``: PCA width of
    the table (null = the encoder's width: centred and rotated, not reduced). ``weighting``: ``sif`` = a / (a + p) with p the
    piece's frequency in the training inputs, ``zipf`` = p from the vocabulary rank (model2vec's), ``none``;
    a = ``sif_coefficient``. ``dtype``: how the table is stored. ``distill_batch_size``: pieces per
    forward pass while distilling.
    """

    vocabulary: Literal["train", "dataset"] = "train"
    pca_dims: Optional[int] = option(256, ge=2)
    weighting: Literal["sif", "zipf", "none"] = "zipf"  # model2vec's defaults (zipf, 1e-4): best on validation
    sif_coefficient: float = option(1e-4, gt=0, lt=1)
    dtype: Literal["float16", "float32"] = "float16"
    distill_batch_size: int = option(256, ge=1)


@dataclass
class DistillSection:
    """Knowledge distillation into a smaller, faster student (``model.kind: transformer``).

    ``teacher``: a fine-tuned transformer classifier folder (``mlnews train configs/classifier/e5-small.yaml``);
    the student starts from the teacher's own weights with only ``layers`` of its encoder layers (a number:
    evenly spaced, the top one kept, DistilBERT's initialisation; a list: those indices, e.g. ``[0, 1, 2, 3]``)
    and learns from the teacher's soft labels (``temperature``) on the labelled training rows and, with
    ``unlabelled``, on the build's unlabelled article titles (its summarisation train split: the same groups as
    the classification train split, so nothing of validation or test) and, with ``unlabelled_sentences``, on up
    to that many body sentences of those articles, and, with ``unlabelled_files``, on the rows of those files
    (``unlabelled_files_columns``: their fields; ``unlabelled_files_rows``: a seeded sample of at most that many),
    less every row that is, or nearly is, a row of the build's validation or test split. ``prune_vocab``: the
    student keeps only the vocabulary pieces of its training texts. ``alpha``: weight of the hard-label loss on
    labelled rows; the rest is the soft-label loss.
    ``hidden_weight``: weight of an extra loss on every row that pulls each student layer's first-token
    ([CLS]) state towards the teacher layer it was copied from (Patient KD's "skip" variant: ``2 - 2 cos``
    of the two states; 0 = off). ``hidden_tokens``: ``first`` compares those first-token states; ``all`` every
    token position the student and teacher inputs share (TinyBERT's hidden-state loss).
    """

    teacher: Optional[str] = None
    # a number: that many teacher layers, evenly spaced with the top one; a list: those layer indices
    layers: Union[int, list[int]] = option(4, ge=1)
    temperature: float = option(2.0, gt=0)
    alpha: float = option(0.3, ge=0, le=1)
    unlabelled: bool = True
    max_unlabelled: Optional[int] = option(None, ge=1)
    # body sentences of the training articles, each alone, as soft-label inputs; 0 = off. A number: shared evenly
    # across the languages; a mapping {lang: count}: that many of each listed language (others none)
    unlabelled_sentences: Union[int, dict[str, int]] = option(0, ge=0)
    # files of unlabelled news text (the one input reader: JSONL / CSV / TSV / Parquet / text / pages), soft
    # labels only; rows equal or near-equal to a validation or test row of the build are left out (counted)
    unlabelled_files: list[str] = field(default_factory=list)
    # which record fields of those files hold the headline or title (required), the lead and the body
    unlabelled_files_columns: dict[str, str] = field(
        default_factory=lambda: {"text": "title", "lead": "lead", "body": "text"})
    # a seeded sample of at most this many of their usable rows; null = all
    unlabelled_files_rows: Optional[int] = option(None, ge=1)
    # keep only the vocabulary pieces of the training-side texts (a Unigram tokenizer, as e5's): a smaller folder
    prune_vocab: bool = False
    # hidden-state loss of every student layer against its teacher layer (hidden_tokens: which states); 0 = off
    hidden_weight: float = option(0.0, ge=0)
    # which states hidden_weight compares: the first token's (PKD) or every shared token position's (TinyBERT)
    hidden_tokens: Literal["first", "all"] = "first"

    def switched_off(self) -> bool:
        """No teacher: no distillation (the section is left out of a dumped config)."""
        return not self.teacher

    def validate(self, prefix: str = "") -> None:
        from mlnews.config import given_keys

        if given_keys(self) and not self.teacher:
            raise ConfigError(f"{_key(prefix, 'teacher')}: required for distillation (a fine-tuned transformer "
                              "classifier folder); remove the distill section to train without a teacher")
        for key in ("unlabelled_files_columns", "unlabelled_files_rows"):
            if key in given_keys(self) and not self.unlabelled_files:
                raise ConfigError(f"{_key(prefix, key)}: only read with distill.unlabelled_files (a list of files); "
                                  f"set unlabelled_files or remove {key}")
        cols = self.unlabelled_files_columns
        if set(cols) - {"text", "lead", "body"} or not cols.get("text"):
            raise ConfigError(f"{_key(prefix, 'unlabelled_files_columns')}: {dict(cols)} must map 'text' (required), "
                              "'lead' and 'body' (optional) to record field names, e.g. {text: title, body: text}")
        per_lang = self.unlabelled_sentences
        if isinstance(per_lang, dict) and (not per_lang or any(not k.strip() or v < 0 for k, v in per_lang.items())):
            raise ConfigError(f"{_key(prefix, 'unlabelled_sentences')}: {dict(per_lang)} must map language codes to "
                              "counts >= 0, e.g. {ru: 2000, uk: 6000}, or be one number shared evenly")
        if "hidden_tokens" in given_keys(self) and not self.hidden_weight:
            raise ConfigError(f"{_key(prefix, 'hidden_tokens')}: only read with distill.hidden_weight > 0 (the "
                              "hidden-state loss it configures is off); set hidden_weight or remove hidden_tokens")


@dataclass
class ClassifierConfig:
    """A complete ``task: classification`` training config."""

    task: Literal["classification"] = "classification"
    description: str = ""  # free text, shown in the model card
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    train: ClassifierTrainSection = field(default_factory=ClassifierTrainSection)
    tfidf: TfidfSection = option(default_factory=TfidfSection, kinds=("tfidf",))
    head: HeadSection = option(default_factory=HeadSection, kinds=HEAD_KINDS)
    distill: DistillSection = option(default_factory=DistillSection, kinds=("transformer",))
    static: StaticSection = option(default_factory=StaticSection, kinds=("static",))

    def validate(self, prefix: str = "") -> None:
        check_applicable(self, self.model.kind)
        from mlnews.config import given_keys

        if self.distill.teacher and "name_or_path" in given_keys(self.model):
            raise ConfigError("model.name_or_path: a distilled student starts from distill.teacher's weights; "
                              "remove model.name_or_path")


# ---------------------------------------------------------------------------------- summarisation

TARGETS = ("lead", "title")
SEQ2SEQ = ("seq2seq",)
EXTRACTIVE = ("extractive",)
LISTWISE_TEMPERATURE = 0.1  # target.temperature default: sharp enough that the best sentence dominates


@dataclass
class SummDataSection:
    """Articles to learn from: a dataset folder, a data config, or a JSON Lines file.

    A dataset folder / data config (``mlnews data build``) provides the ``summarisation`` splits;
    a ``.jsonl`` file (fields ``text``, ``title``, ``lead``, ``lang``, optional ``split``) is used
    for quick experiments. ``langs``: keep only these languages ([] = all).
    """

    path: str = "configs/data/default.yaml"
    train_split: str = "train"
    validation_split: str = "validation"
    test_split: str = "test"
    langs: list[str] = field(default_factory=list)
    max_train_examples: Optional[int] = option(None, ge=1)
    eval_max_examples: Optional[int] = option(300, ge=1)  # rows of validation/test scored after training


@dataclass
class SummModelSection:
    """The network: a seq2seq checkpoint, an encoder warm-starting an EncoderDecoderModel (``seq2seq``),
    or an encoder fine-tuned as a sentence scorer (``extractive``, see :mod:`mlnews.train.extractive`)."""

    kind: Literal["seq2seq", "extractive"] = "seq2seq"
    name_or_path: str = "e5-small"
    max_length: int = option(256, ge=8)  # source tokens (extractive: tokens per window, title + sentences)
    input_prefix: str = ""  # e.g. "summarize: " for T5-style checkpoints
    chunking: Literal["head", "chunks"] = option("head", kinds=SEQ2SEQ)  # long articles: first window, or several
    max_chunks: int = option(4, ge=1, kinds=SEQ2SEQ)
    vocab: Literal["full", "corpus"] = "corpus"  # encoder warm start only: cut vocabulary to the corpus
    decoder_layers: Optional[int] = option(None, ge=1, kinds=SEQ2SEQ)  # decoder depth (lowest N encoder layers)
    tie_encoder_decoder: bool = option(False, kinds=SEQ2SEQ)  # share encoder and decoder weights
    freeze_embeddings: bool = False
    freeze_encoder: bool = option(False, kinds=SEQ2SEQ)  # train only the decoder (+ cross-attention) on CPU
    layers: Optional[int] = option(None, ge=1, kinds=EXTRACTIVE)  # keep the lowest N encoder layers; null = all
    max_sentence_tokens: int = option(64, ge=4, kinds=EXTRACTIVE)  # a longer sentence is cut (for scoring only)
    freeze_layers: int = option(0, ge=0, kinds=EXTRACTIVE)  # freeze the lowest N (kept) layers
    head_learning_rate: Optional[float] = option(None, gt=0, kinds=EXTRACTIVE)  # the new heads; null = train.learning_rate
    # a learned vector per sentence position in the article (0 .. N-1; later sentences share the last one),
    # added to each sentence vector: an explicit position prior that windows after the first lack; 0 = off
    position_buckets: int = option(0, ge=0, kinds=EXTRACTIVE)


@dataclass
class TargetSection:
    """What the model learns to write: the article's ``lead`` (summary) or ``title`` (headline)."""

    field: Literal["lead", "title"] = option("title", kinds=SEQ2SEQ)
    max_length: int = option(48, ge=2, kinds=SEQ2SEQ)  # target tokens (longer references are truncated)
    # extractive: one scorer head per field, trained together; the oracle labels come from each reference
    fields: list[Literal["lead", "title"]] = option(default_factory=lambda: ["lead", "title"], kinds=EXTRACTIVE)
    default: Literal["lead", "title"] = option("lead", kinds=EXTRACTIVE)  # `mlnews summarise` without --target
    title_in_input: list[Literal["lead", "title"]] = option(default_factory=lambda: ["lead"], kinds=EXTRACTIVE)
    sentences: dict[str, int] = option(default_factory=lambda: {"lead": 1, "title": 1}, kinds=EXTRACTIVE)
    oracle_max_sentences: int = option(3, ge=1, kinds=EXTRACTIVE)  # greedy oracle: at most this many positives
    all_windows: list[Literal["lead", "title"]] = option(default_factory=lambda: ["lead"], kinds=EXTRACTIVE)
    blocking: Literal["trigram", "none"] = option("trigram", kinds=EXTRACTIVE)  # redundancy blocking
    # each example of a target seen this many times per epoch (default 1): a target with few, hard examples
    # (lead) can train longer than one that overfits (title) inside one run
    repeat: dict[str, int] = option(default_factory=dict, kinds=EXTRACTIVE)
    # added to the first pickable sentence's logit at inference (news puts the point first): null = chosen per
    # target on the validation split from 0, 0.5, 1, 2, 4 (best mean ROUGE-L); a number = that, for every target
    first_sentence_bonus: Optional[float] = option(None, ge=0, kinds=EXTRACTIVE)
    # blend the model with TextRank at inference: standardised logits + weight x standardised TextRank centrality
    # (PageRank over the article's TF-IDF sentence graph); null = chosen per target on the validation split,
    # jointly with a null first_sentence_bonus, from 0, 0.25, 0.5, 1, 2, 4; 0 = the model alone
    textrank_weight: Optional[float] = option(None, ge=0, kinds=EXTRACTIVE)
    # bce: per-sentence binary loss on the greedy oracle; listwise: cross-entropy between the softmax of the
    # window's sentence scores and softmax(gain / temperature), gain = (ROUGE-1 + ROUGE-2 F1) / 2 of each
    # sentence alone (every sentence gets a graded label, the best one the most)
    loss: Literal["bce", "listwise"] = option("bce", kinds=EXTRACTIVE)
    temperature: float = option(LISTWISE_TEMPERATURE, gt=0, kinds=EXTRACTIVE)  # listwise only

    def check_extractive(self, prefix: str = "") -> None:
        """The extractive keys agree with each other (called for ``model.kind: extractive``)."""
        if not self.fields:
            raise ConfigError(f"{_key(prefix, 'fields')}: expected at least one of lead, title")
        for name in self.sentences:  # a mapping: its keys are not checked by the type (defaults list both)
            if name not in TARGETS:
                raise ConfigError(f"{_key(prefix, 'sentences')}: {name!r} is not a target; expected lead or title")
        if "title" in self.title_in_input:
            raise ConfigError(f"{_key(prefix, 'title_in_input')}: the title cannot be an input of the title target")
        if self.default not in self.fields:
            raise ConfigError(f"{_key(prefix, 'default')}: {self.default!r} is not one of target.fields {self.fields}")
        if self.loss == "bce" and self.temperature != LISTWISE_TEMPERATURE:
            raise ConfigError(f"{_key(prefix, 'temperature')}: applies only to target.loss: listwise")
        for name, k in self.repeat.items():
            if name not in self.fields:
                raise ConfigError(f"{_key(prefix, 'repeat')}: {name!r} is not one of target.fields {self.fields}")
            if k < 1:
                raise ConfigError(f"{_key(prefix, 'repeat')}.{name}: expected >= 1, got {k}")
        for name, k in self.sentences.items():
            if k < 1:
                raise ConfigError(f"{_key(prefix, 'sentences')}.{name}: expected >= 1, got {k}")


@dataclass
class GenerationSection:
    """Decoding settings, saved to generation_config.json and used by ``mlnews summarise``."""

    num_beams: int = option(4, ge=1)
    no_repeat_ngram_size: int = option(3, ge=0)  # 0 = off
    max_new_tokens: int = option(48, ge=1)
    min_new_tokens: int = option(0, ge=0)
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0

    def validate(self, prefix: str = "") -> None:
        if self.min_new_tokens > self.max_new_tokens:
            raise ConfigError(f"{_key(prefix, 'min_new_tokens')}: expected 0..max_new_tokens, got {self.min_new_tokens}")


@dataclass
class SummariserConfig:
    """A complete ``task: summarisation`` training config."""

    task: Literal["summarisation"] = "summarisation"
    description: str = ""
    data: SummDataSection = field(default_factory=SummDataSection)
    model: SummModelSection = field(default_factory=SummModelSection)
    target: TargetSection = field(default_factory=TargetSection)
    generation: GenerationSection = option(default_factory=GenerationSection, kinds=SEQ2SEQ)
    train: TrainSection = field(default_factory=TrainSection)

    def validate(self, prefix: str = "") -> None:
        check_applicable(self, self.model.kind)
        if self.model.kind == "extractive":
            self.target.check_extractive(_key(prefix, "target"))


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


def load_summariser_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> SummariserConfig:
    """Load and validate a summarisation config with ``key=value`` overrides."""
    return load_config(Path(path), SummariserConfig, list(overrides))



def language_row_weights(cfg_weights: str, labels: "LabelSet", train_labels: Sequence[str],
                         train_langs: Sequence[str]) -> list[float]:
    """Per-row loss weights: ``train.class_weights`` computed within each row's language, scaled to mean 1.

    With ``sqrt_balanced``, a Ukrainian society row (792 of ~900 Ukrainian rows) weighs about 0.4 and a
    Ukrainian sports row (33) about 2, while Russian rows keep roughly their overall weights.
    """
    import numpy as np

    by_lang: dict[str, list[float]] = {}
    for lang in set(train_langs):
        rows = [lab for lab, g in zip(train_labels, train_langs) if g == lang]
        by_lang[lang] = resolve_class_weights(cfg_weights, labels, rows) or [1.0] * len(labels)
    weights = np.array([by_lang[g][labels.encode(lab)] for lab, g in zip(train_labels, train_langs)], dtype=np.float64)
    return (weights / weights.mean()).tolist() if len(weights) else []


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
