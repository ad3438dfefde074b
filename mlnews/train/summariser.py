"""Train a seq2seq summariser from a config: ``train(config, out_dir, overrides, resume)``.

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

The test split is scored by :func:`mlnews.evaluate.summariser.evaluate_summariser` through the
same :class:`~mlnews.infer.summariser.Summariser` users load (ROUGE on razdel tokens, chrF).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from mlnews.config import config_file, dump_yaml, resolve_path
from mlnews.data.articles import article_rows, cap_rows
from mlnews.evaluate.summariser import evaluate_summariser
from mlnews.errors import ConfigError, InputError
from mlnews.io import write_json, write_text
from mlnews.modelfolder import CARD, CHECKPOINTS, CONFIG, HISTORY, METRICS, PICKLED_WEIGHTS, InputSpec, Manifest, ModelFolder
from mlnews.train.config import GenerationSection, SummariserConfig, load_summariser_config
from mlnews.train.card import render_summariser_card
from mlnews.train.trainer import attach, last_checkpoint, time_limit_callback, train_history

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------- data


def with_target(rows: list[dict], target: str) -> tuple[list[dict], int]:
    """Rows that have a non-empty body and ``target``; also the number skipped."""
    kept = [r for r in rows if r[target].strip() and r["text"].strip()]
    return kept, len(rows) - len(kept)


# ---------------------------------------------------------------------------------------- model


def _resolve(name: str) -> tuple[Path | str, str]:
    """A local folder (as is), an alias via :func:`mlnews.models.resolve`, or a hub id (as is)."""
    if Path(name).is_dir():
        return Path(name), name
    from mlnews.models import resolve

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


def train(config_path: Path, out_dir: Path, overrides: list[str], resume: bool) -> Path:
    """Fine-tune a seq2seq summariser from ``config_path``; write the model folder ``out_dir``."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments, set_seed

    cfg = load_summariser_config(config_path, overrides)
    out_dir = Path(out_dir)
    folder = ModelFolder.prepare(out_dir, resume=resume)
    ckpt_dir = folder.file(CHECKPOINTS)
    last = last_checkpoint(ckpt_dir)
    if resume and last is None:
        raise ConfigError(f"--resume: no checkpoint in {ckpt_dir} to resume from")
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    set_seed(cfg.train.seed)

    field_ = cfg.target.field
    d = cfg.data
    data_path = str(resolve_path(d.path, config_file(cfg)))  # the one path rule: config folder, CWD, repo root
    train_rows, skipped_train = with_target(article_rows(data_path, d.train_split, d.langs), field_)
    val_rows, skipped_val = with_target(article_rows(data_path, d.validation_split, d.langs), field_)
    if not train_rows:
        raise InputError(f"{d.path}: split {d.train_split!r} has no article with a non-empty {field_!r}")
    n_train_all = len(train_rows)
    train_rows = cap_rows(train_rows, d.max_train_examples, cfg.train.seed)
    log.info(f"summariser: {len(train_rows)} training articles (of {n_train_all}; {skipped_train} skipped: no {field_}), "
             f"{len(val_rows)} validation ({skipped_val} skipped: no {field_})")

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
    eval_rows = cap_rows(val_rows, d.eval_max_examples, cfg.train.seed)
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
    limit = time_limit_callback(cfg.train.time_limit_minutes) if cfg.train.time_limit_minutes else None
    if limit:
        callbacks.append(limit)
    trainer = Seq2SeqTrainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tok,
        data_collator=DataCollatorForSeq2Seq(tok, model=model, label_pad_token_id=-100),
        callbacks=callbacks,
    )
    attach(trainer, out_dir)  # progress on stderr; TensorBoard events in OUT/runs
    t0 = time.monotonic()
    result = trainer.train(resume_from_checkpoint=last if resume else None)
    train_seconds = time.monotonic() - t0

    out_dir.mkdir(parents=True, exist_ok=True)
    tok.model_max_length = cfg.model.max_length  # the saved tokenizer truncates as the model was trained
    trainer.save_model(str(out_dir))  # safetensors + config + tokenizer
    for name in PICKLED_WEIGHTS:
        (out_dir / name).unlink(missing_ok=True)  # pickles: never ship one in a model folder
    model.generation_config.save_pretrained(out_dir)
    write_text(folder.file(CONFIG), dump_yaml(cfg))
    history = train_history(trainer, result, train_seconds, limit, last if resume else None,
                            train_examples=len(train_rows),
                            skipped_no_target={"train": skipped_train, "validation": skipped_val})
    write_json(folder.file(HISTORY), history)
    manifest = Manifest.new(
        task="summarisation", kind="seq2seq", base_model=base,
        input=InputSpec(prefix=cfg.model.input_prefix, max_length=cfg.model.max_length,
                        chunking=cfg.model.chunking, max_chunks=cfg.model.max_chunks),
        target=cfg.target.field,
    )
    folder = ModelFolder(out_dir, manifest)  # in memory: evaluated before mlnews.json is written (last)
    try:
        metrics = evaluate_summariser(folder, data_path, d.test_split, None, max_examples=d.eval_max_examples,
                                      langs=d.langs)
    except InputError as exc:  # e.g. no test split: keep the trained model, say why it is unscored
        log.warning(f"summariser: not evaluated: {exc}")
        metrics = {"split": d.test_split, "n": 0, "not_evaluated": str(exc)}
    metrics["training"] = {k: v for k, v in history.items() if k != "log"}
    write_json(folder.file(METRICS), metrics)
    write_text(folder.file(CARD), render_summariser_card(out_dir.name, cfg, base, metrics))
    if not cfg.train.keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    folder.finish(manifest)  # last: its presence marks a finished model folder
    return out_dir
