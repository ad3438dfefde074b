"""Train and evaluate summarisers: ``train`` (seq2seq, from a config) and ``evaluate`` (any summariser).

``mlnews train configs/summariser/NAME.yaml --out DIR`` calls :func:`train`. ``model.name_or_path``
is either

* a seq2seq checkpoint (a local folder or, online, a hub id such as ``google/mt5-small`` or
  ``IlyaGusev/mbart_ru_sum_gazeta``): fine-tuned as is through ``AutoModelForSeq2SeqLM``; or
* an encoder (``e5-small``, the packaged multilingual e5, or any BERT-like folder): an
  ``EncoderDecoderModel`` is warm-started from it (Rothe et al., 2020). The encoder's vocabulary
  can first be cut to the pieces the training corpus uses (``model.vocab: corpus``), which keeps
  tokenisation of that corpus identical and makes embeddings and the output layer ~10x smaller.

Training uses ``Seq2SeqTrainer`` with checkpoints in ``DIR/checkpoints`` (``--resume`` continues
from the last one; they are removed after a successful run) and an optional wall-clock budget
(``train.time_limit_minutes``). The folder then holds the model (safetensors), tokenizer,
generation_config.json, mlnews.json, train_config.yaml, metrics.json (test split) and README.md,
and reloads through ``AutoModelForSeq2SeqLM`` / ``mlnews summarise --model DIR``.

:func:`evaluate` scores ``lead[-N]``, ``textrank[-N]`` or a model folder on a dataset split with
:mod:`mlnews.train.rouge` (ROUGE-1/2/L on razdel tokens, chrF), overall and per language.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from mlnews.config import dump_yaml, load_config
from mlnews.errors import ConfigError, InputError
from mlnews.io import write_json, write_text
from mlnews.train.config import TrainSection

TARGETS = ("lead", "title")


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


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
    max_train_examples: Optional[int] = None
    eval_max_examples: Optional[int] = 300  # rows of validation/test scored with generation after training

    def validate(self, prefix: str = "") -> None:
        for name in ("max_train_examples", "eval_max_examples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{_key(prefix, name)}: expected >= 1 or null, got {value}")


@dataclass
class SummModelSection:
    """The network: a seq2seq checkpoint, or an encoder warm-starting an EncoderDecoderModel."""

    kind: Literal["seq2seq"] = "seq2seq"
    name_or_path: str = "e5-small"
    max_length: int = 256  # source tokens
    input_prefix: str = ""  # e.g. "summarize: " for T5-style checkpoints
    chunking: Literal["head", "chunks"] = "head"  # long articles at inference: first window, or several
    max_chunks: int = 4
    vocab: Literal["full", "corpus"] = "corpus"  # encoder warm start only: cut vocabulary to the corpus
    decoder_layers: Optional[int] = None  # encoder warm start: decoder depth (lowest N encoder layers); null = all
    tie_encoder_decoder: bool = False  # share encoder and decoder weights (half the parameters)
    freeze_embeddings: bool = False
    freeze_encoder: bool = False  # train only the decoder (+ cross-attention): ~3x cheaper steps on CPU

    def validate(self, prefix: str = "") -> None:
        if self.max_length < 8:
            raise ConfigError(f"{_key(prefix, 'max_length')}: expected >= 8, got {self.max_length}")
        if self.max_chunks < 1:
            raise ConfigError(f"{_key(prefix, 'max_chunks')}: expected >= 1, got {self.max_chunks}")
        if self.decoder_layers is not None and self.decoder_layers < 1:
            raise ConfigError(f"{_key(prefix, 'decoder_layers')}: expected >= 1 or null, got {self.decoder_layers}")


@dataclass
class TargetSection:
    """What the model learns to write: the article's ``lead`` (summary) or ``title`` (headline)."""

    field: Literal["lead", "title"] = "title"
    max_length: int = 48  # target tokens (longer references are truncated for training)

    def validate(self, prefix: str = "") -> None:
        if self.max_length < 2:
            raise ConfigError(f"{_key(prefix, 'max_length')}: expected >= 2, got {self.max_length}")


@dataclass
class GenerationSection:
    """Decoding settings, saved to generation_config.json and used by ``mlnews summarise``."""

    num_beams: int = 4
    no_repeat_ngram_size: int = 3
    max_new_tokens: int = 48
    min_new_tokens: int = 0
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0

    def validate(self, prefix: str = "") -> None:
        if self.num_beams < 1:
            raise ConfigError(f"{_key(prefix, 'num_beams')}: expected >= 1, got {self.num_beams}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"{_key(prefix, 'max_new_tokens')}: expected >= 1, got {self.max_new_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ConfigError(f"{_key(prefix, 'min_new_tokens')}: expected 0..max_new_tokens, got {self.min_new_tokens}")
        if self.no_repeat_ngram_size < 0:
            raise ConfigError(f"{_key(prefix, 'no_repeat_ngram_size')}: expected >= 0 (0 = off)")


@dataclass
class SummariserConfig:
    """A complete ``task: summarisation`` training config."""

    task: Literal["summarisation"] = "summarisation"
    description: str = ""
    data: SummDataSection = field(default_factory=SummDataSection)
    model: SummModelSection = field(default_factory=SummModelSection)
    target: TargetSection = field(default_factory=TargetSection)
    generation: GenerationSection = field(default_factory=GenerationSection)
    train: TrainSection = field(default_factory=TrainSection)
    time_limit_minutes: Optional[float] = None  # stop (and save) after this much training time
    keep_checkpoints: bool = False  # keep DIR/checkpoints after a successful run

    def validate(self, prefix: str = "") -> None:
        if self.train.class_weights != "none":
            raise ConfigError(f"{_key(prefix, 'train.class_weights')}: not used for summarisation; remove it")
        if self.time_limit_minutes is not None and self.time_limit_minutes <= 0:
            raise ConfigError(f"{_key(prefix, 'time_limit_minutes')}: expected > 0 or null")


def load_summariser_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> SummariserConfig:
    """Load and validate a summarisation config with ``key=value`` overrides."""
    return load_config(Path(path), SummariserConfig, list(overrides))


# ---------------------------------------------------------------------------------------- data


def load_rows(data: str | os.PathLike, split: str, langs: list[str] | None = None) -> list[dict]:
    """Rows ``{id, text, title, lead, lang}`` of one split of a dataset folder, data config or JSONL file.

    In a JSONL file a row belongs to ``split`` when its ``split`` field equals it or is absent.
    """
    path = Path(data)
    if path.suffix == ".jsonl":
        rows = _jsonl_rows(path, split)
    else:
        from mlnews.data import ensure_dataset, load_built

        built = load_built(ensure_dataset(path)).summarisation
        if split not in built:
            raise InputError(f"{path}: no split {split!r} in the summarisation data; it has {', '.join(built)}")
        rows = [
            {k: (r.get(k) or "") for k in ("id", "text", "title", "lead", "lang")} for r in built[split]
        ]
    if langs:
        rows = [r for r in rows if r["lang"] in langs]
    return rows


def _jsonl_rows(path: Path, split: str) -> list[dict]:
    from mlnews.io import iter_jsonl

    if not path.is_file():
        raise InputError(f"{path}: file not found")
    rows = []
    for lineno, rec in iter_jsonl(path):
        text = rec.get("text")
        if not isinstance(text, str):
            raise InputError(f"{path}:{lineno}: expected a string field 'text' (the article body)")
        if rec.get("split", split) != split:
            continue
        rows.append({
            "id": str(rec.get("id", f"{path.name}:{lineno}")),
            "text": text,
            "title": rec.get("title") or "",
            "lead": rec.get("lead") or "",
            "lang": rec.get("lang") or "unknown",
        })
    return rows


def with_target(rows: list[dict], target: str) -> tuple[list[dict], int]:
    """Rows that have a non-empty body and ``target``; also the number skipped."""
    kept = [r for r in rows if r[target].strip() and r["text"].strip()]
    return kept, len(rows) - len(kept)


# ---------------------------------------------------------------------------------------- model


def _resolve(name: str) -> tuple[Path | str, str]:
    """A local folder (as is), an alias via :func:`mlnews.models.resolve`, or a hub id (as is)."""
    if Path(name).is_dir():
        return Path(name), name
    try:
        from mlnews.models import resolve
    except ImportError:
        return name, name
    resolved = resolve(name)
    return Path(resolved.path), name


def _is_seq2seq(path: Path | str) -> bool:
    from transformers import AutoConfig

    try:
        cfg = AutoConfig.from_pretrained(path)
    except OSError as exc:
        raise ConfigError(f"model.name_or_path: cannot load {path!s} ({str(exc).splitlines()[0]})") from None
    return bool(getattr(cfg, "is_encoder_decoder", False))


def special_ids(tok) -> tuple[int, int, int]:
    """(decoder start, eos, pad) for a tokenizer: <s>/[CLS], </s>/[SEP], <pad>/[PAD]."""
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.cls_token_id
    eos = tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id
    if start is None or eos is None or tok.pad_token_id is None:
        raise ConfigError("model.name_or_path: the tokenizer needs bos/cls, eos/sep and pad tokens for a decoder")
    return start, eos, tok.pad_token_id


def build_model(cfg: SummariserConfig, corpus: list[str], work: Path):
    """(model, tokenizer, base description) for the config; ``work`` holds a pruned encoder if any."""
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer, EncoderDecoderModel

    path, alias = _resolve(cfg.model.name_or_path)
    if _is_seq2seq(path):
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSeq2SeqLM.from_pretrained(path)
        return model, tok, alias
    if cfg.model.vocab == "corpus":
        enc_path = work / "encoder"
        if not (enc_path / "config.json").is_file():
            from mlnews.errors import MlnewsError
            from mlnews.models.prune import prune_vocab

            try:
                prune_vocab(Path(path), corpus, enc_path)
            except MlnewsError as exc:
                raise ConfigError(f"model.vocab: corpus: {exc}; use model.vocab=full") from None
    else:
        enc_path = Path(path)
    tok = AutoTokenizer.from_pretrained(enc_path)
    dec_cfg = AutoConfig.from_pretrained(enc_path)
    dec_cfg.is_decoder, dec_cfg.add_cross_attention = True, True
    dec_cfg.tie_word_embeddings = True  # output layer = decoder input embeddings
    if cfg.model.decoder_layers is not None:
        dec_cfg.num_hidden_layers = min(cfg.model.decoder_layers, dec_cfg.num_hidden_layers)
    import transformers

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # cross-attention weights are new by design
    try:
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(
            str(enc_path), str(enc_path), decoder_config=dec_cfg,
            tie_encoder_decoder=cfg.model.tie_encoder_decoder,
        )
    finally:
        transformers.logging.set_verbosity(verbosity)
    start, eos, pad = special_ids(tok)
    model.config.decoder_start_token_id = start
    model.config.eos_token_id = eos
    model.config.pad_token_id = pad
    model.config.vocab_size = model.config.decoder.vocab_size
    return model, tok, alias


def apply_generation(model, tok, gen: GenerationSection) -> None:
    """Put the decoding settings (and the special ids) into ``model.generation_config``."""
    from transformers import GenerationConfig

    start = getattr(model.config, "decoder_start_token_id", None)
    eos = getattr(model.config, "eos_token_id", None) or tok.eos_token_id
    pad = getattr(model.config, "pad_token_id", None)
    if pad is None:
        pad = tok.pad_token_id
    model.generation_config = GenerationConfig(
        decoder_start_token_id=start, bos_token_id=start, eos_token_id=eos, pad_token_id=pad,
        num_beams=gen.num_beams, no_repeat_ngram_size=gen.no_repeat_ngram_size,
        max_new_tokens=gen.max_new_tokens, min_new_tokens=gen.min_new_tokens,
        length_penalty=gen.length_penalty, repetition_penalty=gen.repetition_penalty,
        early_stopping=gen.num_beams > 1,
    )


def tokenize_rows(rows: list[dict], tok, cfg: SummariserConfig, eos: int):
    """A ``datasets.Dataset`` of input_ids / attention_mask / labels (labels end with eos)."""
    from datasets import Dataset

    max_src, max_tgt = cfg.model.max_length, cfg.target.max_length
    char_cap = max_src * 12  # never tokenize a whole 1 MB body to keep its first few hundred tokens
    src = [cfg.model.input_prefix + r["text"][:char_cap] for r in rows]
    enc = tok(src, truncation=True, max_length=max_src)
    tgt = tok([r[cfg.target.field] for r in rows], add_special_tokens=False, truncation=True, max_length=max_tgt - 1)
    return Dataset.from_dict({
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "labels": [ids + [eos] for ids in tgt["input_ids"]],
    })


# ---------------------------------------------------------------------------------------- train


def _time_limit_callback(minutes: float):
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):
        """Stop (saving a checkpoint) once the training time budget is spent."""

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


def _cap(rows: list[dict], n: int | None, seed: int) -> list[dict]:
    if n is None or len(rows) <= n:
        return rows
    import random

    picked = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in picked]


def _last_checkpoint(ckpt_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None


def train(config_path: Path, out_dir: Path, overrides: list[str], resume: bool) -> Path:
    """Fine-tune a seq2seq summariser from ``config_path``; write the model folder ``out_dir``."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments, set_seed

    cfg = load_summariser_config(config_path, overrides)
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    last = _last_checkpoint(ckpt_dir)
    if resume and last is None:
        raise ConfigError(f"--resume: no checkpoint in {ckpt_dir} to resume from")
    if not resume and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)  # a fresh run: old checkpoints belong to another run
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    set_seed(cfg.train.seed)

    field_ = cfg.target.field
    d = cfg.data
    train_rows, skipped_train = with_target(load_rows(d.path, d.train_split, d.langs), field_)
    val_rows, skipped_val = with_target(load_rows(d.path, d.validation_split, d.langs), field_)
    if not train_rows:
        raise InputError(f"{d.path}: split {d.train_split!r} has no article with a non-empty {field_!r}")
    n_train_all = len(train_rows)
    train_rows = _cap(train_rows, d.max_train_examples, cfg.train.seed)
    print(f"summariser: {len(train_rows)} training articles (of {n_train_all}; {skipped_train} skipped: no {field_}), "
          f"{len(val_rows)} validation ({skipped_val} skipped: no {field_})", flush=True)

    work = out_dir / "checkpoints" / "base"
    corpus = [r["text"][: cfg.model.max_length * 12] for r in train_rows] + [r[field_] for r in train_rows]
    model, tok, base = build_model(cfg, corpus, work)
    if cfg.model.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if cfg.model.freeze_encoder:
        if cfg.model.tie_encoder_decoder:
            raise ConfigError("model.freeze_encoder: cannot freeze an encoder whose weights the decoder shares "
                              "(model.tie_encoder_decoder: true)")
        model.get_encoder().requires_grad_(False)
    apply_generation(model, tok, cfg.generation)
    eos = model.generation_config.eos_token_id
    eos = eos[0] if isinstance(eos, list) else eos
    train_ds = tokenize_rows(train_rows, tok, cfg, eos)
    eval_rows = _cap(val_rows, d.eval_max_examples, cfg.train.seed)
    eval_ds = tokenize_rows(eval_rows, tok, cfg, eos) if eval_rows else None

    t = cfg.train
    args = Seq2SeqTrainingArguments(
        output_dir=str(ckpt_dir),
        **t.trainer_kwargs(),
        eval_strategy=t.eval_strategy if eval_ds is not None else "no",
        eval_steps=t.eval_steps or None,
        save_strategy=t.eval_strategy,
        save_steps=t.eval_steps or 500,
        predict_with_generate=False,  # validation loss during training; ROUGE with generation afterwards
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
    )
    callbacks = []
    limit = _time_limit_callback(cfg.time_limit_minutes) if cfg.time_limit_minutes else None
    if limit:
        callbacks.append(limit)
    trainer = Seq2SeqTrainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tok,
        data_collator=DataCollatorForSeq2Seq(tok, model=model, label_pad_token_id=-100),
        callbacks=callbacks,
    )
    t0 = time.monotonic()
    result = trainer.train(resume_from_checkpoint=last if resume else None)
    train_seconds = time.monotonic() - t0

    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(out_dir))  # safetensors + config + tokenizer
    (out_dir / "training_args.bin").unlink(missing_ok=True)  # a pickle: never ship one in a model folder
    model.generation_config.save_pretrained(out_dir)
    write_text(out_dir / "train_config.yaml", dump_yaml(cfg))
    history = {
        "train_seconds": round(train_seconds, 1),
        "global_step": trainer.state.global_step,
        "epochs_done": round(float(trainer.state.epoch or 0), 3),
        "train_loss": round(float(result.training_loss), 4),
        "stopped_by_time_limit": bool(limit and limit.hit),
        "log": trainer.state.log_history,
        "train_examples": len(train_rows),
        "resumed_from": Path(last).name if resume and last else None,
        "skipped_no_target": {"train": skipped_train, "validation": skipped_val},
    }
    write_json(out_dir / "train_history.json", history)
    _write_manifest(out_dir, cfg, base)

    try:
        metrics = evaluate(str(out_dir), d.path, d.test_split, None, max_examples=d.eval_max_examples, langs=d.langs)
    except InputError as exc:  # e.g. no test split: keep the trained model, say why it is unscored
        print(f"summariser: not evaluated: {exc}", flush=True)
        metrics = {"split": d.test_split, "n": 0, "not_evaluated": str(exc)}
    metrics["training"] = {k: v for k, v in history.items() if k != "log"}
    write_json(out_dir / "metrics.json", metrics)
    _write_card(out_dir, cfg, base, metrics)
    if not cfg.keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    return out_dir


def _write_manifest(out_dir: Path, cfg: SummariserConfig, base: str) -> None:
    from mlnews.train.manifest import make_manifest, write_manifest

    manifest = make_manifest(
        task="summarisation", kind="seq2seq", base_model=base,
        input={"prefix": cfg.model.input_prefix, "max_length": cfg.model.max_length,
               "chunking": cfg.model.chunking, "max_chunks": cfg.model.max_chunks},
        target=cfg.target.field,
    )
    write_manifest(out_dir, manifest)


def _write_card(out_dir: Path, cfg: SummariserConfig, base: str, metrics: dict) -> None:
    from importlib.resources import files
    from string import Template

    template = Template(files("mlnews").joinpath("templates/summariser_card.md").read_text(encoding="utf-8"))
    rows = [("all", metrics)] + sorted(metrics.get("per_lang", {}).items())
    table = "\n".join(
        f"| {name} | {m['n']} | {m['rouge1']:.1f} | {m['rouge2']:.1f} | {m['rougeL']:.1f} | {m['chrf']:.1f} |"
        for name, m in rows
    ) if "rouge1" in metrics else f"| not evaluated: {metrics.get('not_evaluated', '?')} | | | | | |"
    tr = metrics.get("training", {})
    text = template.substitute(
        name=out_dir.name,
        description=cfg.description or "(no description in the config)",
        base=base,
        target=cfg.target.field,
        data=cfg.data.path,
        split=metrics.get("split", cfg.data.test_split),
        table=table,
        steps=tr.get("global_step", "?"),
        epochs=tr.get("epochs_done", "?"),
        minutes=round(tr.get("train_seconds", 0) / 60, 1),
        time_limited="yes" if tr.get("stopped_by_time_limit") else "no",
        train_examples=tr.get("train_examples", "?"),
        max_length=cfg.model.max_length,
        chunking=cfg.model.chunking,
        generation=json.dumps(_generation_dict(cfg.generation), ensure_ascii=False),
        config=dump_yaml(cfg).rstrip(),
    )
    write_text(out_dir / "README.md", text)


def _generation_dict(gen: GenerationSection) -> dict:
    from mlnews.config import to_dict

    return to_dict(gen)


# ---------------------------------------------------------------------------------------- evaluate


def evaluate(model: str, data: str, split: str, out_dir: Path | None, *, max_examples: int | None = None,
             langs: list[str] | None = None) -> dict:
    """Score a summariser on ``split`` of ``data``; write metrics.json (+ predictions.jsonl) to ``out_dir``.

    ``model``: ``lead``, ``lead-N``, ``textrank``, ``textrank-N`` or a model folder. A model folder
    is scored against the target it was trained for; extractive methods against both ``lead`` and
    ``title`` (top-level numbers: ``lead``). Articles without a reference are counted as skipped.
    """
    from mlnews.infer.summariser import Summariser, read_manifest
    from mlnews.train.rouge import corpus_scores

    summariser = Summariser.load(model)
    if Path(model).is_dir():
        targets = [read_manifest(Path(model)).get("target", "lead")]
    else:
        targets = ["lead", "title"]
    rows = load_rows(data, split, langs)
    if not rows:
        raise InputError(f"{data}: split {split!r} has no articles")
    rows = _cap(rows, max_examples, 13)
    t0 = time.perf_counter()
    summaries = summariser.summarise_many([r["text"] for r in rows if r["text"].strip()])
    seconds = time.perf_counter() - t0
    preds = iter(s.text for s in summaries)
    pred_by_row = [next(preds) if r["text"].strip() else None for r in rows]

    by_target = {}
    for target in targets:
        idx = [i for i, r in enumerate(rows) if r[target].strip() and pred_by_row[i] is not None]
        scores = corpus_scores([pred_by_row[i] for i in idx], [rows[i][target] for i in idx],
                               [rows[i]["lang"] for i in idx])
        scores["skipped_no_reference"] = len(rows) - len(idx)
        by_target[target] = scores
    main = by_target[targets[0]]
    result = {
        "model": model if not Path(model).is_dir() else str(Path(model)),
        "method": summariser.method,
        "data": str(data),
        "split": split,
        "target": targets[0],
        "articles": len(rows),
        **{k: main[k] for k in ("n", "rouge1", "rouge2", "rougeL", "chrf", "per_lang", "skipped_no_reference")},
        "by_target": by_target,
        "seconds_per_article": round(seconds / max(1, len(summaries)), 4),
        "tokenizer": "razdel, lowercased, ё->е, punctuation dropped, no stemming",
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        write_json(out_dir / "metrics.json", result)
        from mlnews.io import atomic_write

        with atomic_write(out_dir / "predictions.jsonl") as fh:
            for r, p in zip(rows, pred_by_row):
                rec = {"id": r["id"], "lang": r["lang"], "prediction": p, "lead": r["lead"], "title": r["title"]}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return result
