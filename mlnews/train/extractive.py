"""Train the extractive summariser: greedy-ROUGE oracle labels + a fine-tuned sentence scorer.

Labels follow BertSumExt / SummaRuNNer: for each article, sentences are added greedily while the
mean of ROUGE-1 and ROUGE-2 F1 of the selection against the reference (``lead`` or ``title``) grows;
the chosen sentences are positives. ROUGE is mlnews' own (razdel tokens, Cyrillic kept), unlike
PreSumm's oracle, which strips every non-Latin character and so gives Russian no labels.
The scorer (:class:`mlnews.models.sentence_scorer.SentenceScorer`) sees the sentence in its
document (BertSum-style windows; the title first for the ``lead`` target) and is trained with
the transformers ``Trainer`` on a per-sentence binary loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from mlnews.config import config_file, resolve_path
from mlnews.errors import ConfigError, InputError
from mlnews.evaluate.rouge import rouge_n, tokenize
from mlnews.ingest.sentences import is_dateline, split_sentences
from mlnews.train.config import SummariserConfig, load_summariser_config

ORACLE_MAX_SENTENCES = 3


def greedy_oracle(sentence_tokens: Sequence[Sequence[str]], ref_tokens: Sequence[str],
                  max_sentences: int = ORACLE_MAX_SENTENCES, skip: int = 0) -> list[int]:
    """Greedy selection maximising (ROUGE-1 F1 + ROUGE-2 F1) / 2 against ``ref_tokens``; sorted indices."""
    chosen: list[int] = []
    best = 0.0
    while len(chosen) < max_sentences:
        pick, pick_score = None, best
        for i in range(skip, len(sentence_tokens)):
            if i in chosen:
                continue
            s = sentence_gain([t for j in sorted(chosen + [i]) for t in sentence_tokens[j]], ref_tokens)
            if s > pick_score:
                pick, pick_score = i, s
        if pick is None:
            break
        chosen.append(pick)
        best = pick_score
    return sorted(chosen)


def sentence_gain(sentence_tokens: Sequence[str], ref_tokens: Sequence[str]) -> float:
    """(ROUGE-1 F1 + ROUGE-2 F1) / 2 of one sentence against the reference: the oracle's own criterion."""
    return (rouge_n(sentence_tokens, ref_tokens, 1) + rouge_n(sentence_tokens, ref_tokens, 2)) / 2


def article_sentences(text: str, max_sentences: int = 400) -> tuple[list[str], int]:
    """Sentences of a body and how many to skip at the start (a wire-agency dateline)."""
    sents = split_sentences(text, max_sentences=max_sentences)
    skip = 1 if len(sents) > 1 and is_dateline(sents[0]) else 0
    return sents, skip


@dataclass
class Example:
    """One training input: an article's first window for one target, with per-sentence labels."""

    window: object  # mlnews.models.sentence_scorer.Window
    labels: list[float]
    target_id: int
    article: str  # row id


def build_examples(rows: Sequence[dict], tokenizer, targets: Sequence[str], *, prefix: str, max_length: int,
                   max_sentence_tokens: int, title_in_input: dict[str, bool],
                   oracle_max_sentences: int = ORACLE_MAX_SENTENCES,
                   all_windows: Sequence[str] = (), graded: bool = False) -> tuple[list[Example], dict]:
    """Examples for every (row, target) with a non-empty reference; report counts skipped by reason.

    A target in ``all_windows`` gets one example per window of the article that holds one of its
    oracle sentences (they can be anywhere: a lead paraphrases the whole story); the others only the
    first window. Labels are 1/0 for oracle / other sentences, or with ``graded`` (the listwise loss)
    each sentence's own gain, (ROUGE-1 + ROUGE-2 F1) / 2 against the reference.
    """
    from mlnews.models.sentence_scorer import encode_windows

    examples: list[Example] = []
    report = {t: {"examples": 0, "no_reference": 0, "no_positive": 0} for t in targets}
    for row in rows:
        sents, skip = article_sentences(row["text"])
        if not sents:
            for t in targets:
                report[t]["no_reference"] += 1
            continue
        sent_tok = [tokenize(s) for s in sents]
        for tid, target in enumerate(targets):
            ref = row.get(target) or ""
            if not ref.strip():
                report[target]["no_reference"] += 1
                continue
            windows = encode_windows(tokenizer, sents, title=row["title"] if title_in_input.get(target) else None,
                                     prefix=prefix, max_length=max_length, max_sentence_tokens=max_sentence_tokens,
                                     first_only=target not in all_windows)
            ref_tok = tokenize(ref)
            positives = set(greedy_oracle(sent_tok, ref_tok, oracle_max_sentences, skip))
            gain = {i: sentence_gain(sent_tok[i], ref_tok) for i in range(skip, len(sents))} if graded else {}
            labelled = [(w, [(gain[i] if graded else 1.0 if i in positives else 0.0) if i >= skip else -100.0
                             for i in w.sentences], positives.intersection(w.sentences)) for w in windows]
            if not any(held for _, _, held in labelled):
                report[target]["no_positive"] += 1  # no oracle sentence in the windows used: nothing to learn
                continue
            if target in all_windows:  # only the windows that hold an oracle sentence (CPU budget)
                labelled = [item for item in labelled if item[2]]
            for window, labels, _ in labelled:
                examples.append(Example(window, labels, tid, row.get("id", "")))
            report[target]["examples"] += len(labelled)
    return examples, report


# ---------------------------------------------------------------------------------------- train


class _Examples:
    """A map-style dataset over :class:`Example` objects for the Trainer."""

    def __init__(self, examples: list[Example]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]


def _collator(pad_id: int):
    from mlnews.models.sentence_scorer import collate_windows

    def collate(items: list[Example]):
        return collate_windows([e.window for e in items], pad_id, labels=[e.labels for e in items],
                               targets=[e.target_id for e in items])

    return collate


def _encoder(cfg: SummariserConfig, corpus_rows: list[dict], work: Path) -> tuple[Path, str]:
    """(encoder folder, alias): the resolved encoder, vocabulary-pruned into ``work`` if asked."""
    from mlnews.models import resolve

    resolved = resolve(cfg.model.name_or_path)
    if cfg.model.vocab == "full":
        return Path(resolved.path), cfg.model.name_or_path
    enc = work / "encoder"
    if not (enc / "config.json").is_file():
        from mlnews.errors import MlnewsError
        from mlnews.models.prune import prune_vocab

        enc.mkdir(parents=True, exist_ok=True)
        corpus = [r[k] for r in corpus_rows for k in ("text", "title", "lead") if r.get(k)]
        try:
            prune_vocab(Path(resolved.path), corpus, enc)
        except MlnewsError as exc:
            raise ConfigError(f"model.vocab: corpus: {exc}; use model.vocab=full") from None
    return enc, cfg.model.name_or_path


def build_scorer(enc: Path, cfg: SummariserConfig):
    """A :class:`SentenceScorer` warm-started from ``enc`` (lowest ``model.layers`` layers), freezing applied."""
    from transformers import AutoConfig

    from mlnews.models.e5 import quiet_transformers
    from mlnews.models.sentence_scorer import SentenceScorer

    mcfg = AutoConfig.from_pretrained(enc)
    mcfg.extractive_targets = list(cfg.target.fields)
    mcfg.extractive_loss = cfg.target.loss
    mcfg.extractive_temperature = cfg.target.temperature
    mcfg.extractive_position_buckets = cfg.model.position_buckets
    if cfg.model.layers is not None:
        mcfg.num_hidden_layers = min(cfg.model.layers, mcfg.num_hidden_layers)
    with quiet_transformers():  # the heads are new by design; the upper layers are dropped on purpose
        model = SentenceScorer.from_pretrained(enc, config=mcfg)
    if cfg.model.freeze_embeddings:
        model.bert.embeddings.requires_grad_(False)
    for layer in model.bert.encoder.layer[: cfg.model.freeze_layers]:
        layer.requires_grad_(False)
    return model


def _optimizer(model, cfg: SummariserConfig):
    """AdamW with the new heads at ``model.head_learning_rate`` (a random head learns far slower than the
    pretrained encoder needs to move) and the encoder at ``train.learning_rate``; the Trainer adds the schedule."""
    import torch

    new = ("heads.", "positions.")
    heads = [p for n, p in model.named_parameters() if n.startswith(new) and p.requires_grad]
    encoder = [p for n, p in model.named_parameters() if not n.startswith(new) and p.requires_grad]
    head_lr = cfg.model.head_learning_rate or cfg.train.learning_rate
    return torch.optim.AdamW([{"params": encoder, "lr": cfg.train.learning_rate},
                              {"params": heads, "lr": head_lr}], weight_decay=cfg.train.weight_decay)


def train(config_path: Path, out_dir: Path, overrides: list[str], resume: bool) -> Path:
    """Fine-tune the extractive scorer from ``config_path``; write the model folder ``out_dir``."""
    import shutil
    import time

    import torch
    from transformers import AutoTokenizer, Trainer, TrainingArguments, set_seed

    from mlnews.config import dump_yaml
    from mlnews.data.articles import article_rows, cap_rows
    from mlnews.io import write_json, write_text
    from mlnews.modelfolder import CHECKPOINTS, CONFIG, HISTORY, METRICS, PICKLED_WEIGHTS, InputSpec, Manifest, ModelFolder
    from mlnews.train.trainer import attach, last_checkpoint, time_limit_callback, train_history

    cfg = load_summariser_config(config_path, overrides)
    if cfg.model.kind != "extractive":
        raise ConfigError(f"{config_path}: model.kind: expected extractive for this trainer, got {cfg.model.kind!r}")
    folder = ModelFolder.prepare(out_dir, resume=resume)
    out_dir = folder.path
    ckpt_dir = folder.file(CHECKPOINTS)
    last = last_checkpoint(ckpt_dir)
    if resume and last is None:
        raise ConfigError(f"--resume: no checkpoint in {ckpt_dir} to resume from")
    torch.set_num_threads(cfg.train.num_threads or 2)
    set_seed(cfg.train.seed)

    d = cfg.data
    data_path = str(resolve_path(d.path, config_file(cfg)))  # the one path rule: config folder, CWD, repo root
    rows = article_rows(data_path, d.train_split, d.langs)
    rows = [r for r in rows if r["text"].strip()]
    if not rows:
        raise InputError(f"{d.path}: split {d.train_split!r} has no article with a body")
    n_all = len(rows)
    rows = cap_rows(rows, d.max_train_examples, cfg.train.seed)
    enc, base = _encoder(cfg, rows, ckpt_dir / "base")
    prefix = cfg.model.input_prefix
    tok = AutoTokenizer.from_pretrained(enc)
    t0 = time.monotonic()
    examples, report = build_examples(
        rows, tok, cfg.target.fields, prefix=prefix, max_length=cfg.model.max_length,
        max_sentence_tokens=cfg.model.max_sentence_tokens,
        title_in_input={t: t in cfg.target.title_in_input for t in cfg.target.fields},
        oracle_max_sentences=cfg.target.oracle_max_sentences, all_windows=cfg.target.all_windows,
        graded=cfg.target.loss == "listwise",
    )
    counts = ", ".join(f"{t}: {r['examples']} ({r['no_reference']} without {t}, {r['no_positive']} without an "
                       f"oracle sentence in the window)" for t, r in report.items())
    print(f"summariser: {len(rows)} training articles (of {n_all}); examples {counts}; oracle labels in "
          f"{time.monotonic() - t0:.0f} s", flush=True)
    if not examples:
        raise InputError(f"{d.path}: no training example: no article has a reference with any overlap")
    repeat = cfg.target.repeat
    examples = [e for e in examples for _ in range(repeat.get(cfg.target.fields[e.target_id], 1))]
    model = build_scorer(enc, cfg)

    t = cfg.train
    args = TrainingArguments(
        output_dir=str(ckpt_dir), **t.trainer_kwargs(),
        save_strategy=t.eval_strategy, save_steps=t.eval_steps or 500, eval_strategy="no",
        remove_unused_columns=False, use_cpu=not torch.cuda.is_available(), disable_tqdm=True,
    )
    limit = time_limit_callback(t.time_limit_minutes) if t.time_limit_minutes else None
    trainer = Trainer(model=model, args=args, train_dataset=_Examples(examples), data_collator=_collator(tok.pad_token_id),
                      callbacks=[limit] if limit else [], optimizers=(_optimizer(model, cfg), None))
    attach(trainer, out_dir)  # progress on stderr; TensorBoard events in OUT/runs
    t0 = time.monotonic()
    result = trainer.train(resume_from_checkpoint=last if resume else None)
    train_seconds = time.monotonic() - t0

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
    for name in PICKLED_WEIGHTS:
        (out_dir / name).unlink(missing_ok=True)
    write_text(folder.file(CONFIG), dump_yaml(cfg))
    history = train_history(trainer, result, train_seconds, limit, last if resume else None,
                            train_articles=len(rows), examples=report)
    write_json(folder.file(HISTORY), history)
    manifest = Manifest.new(
        task="summarisation", kind="extractive", base_model=base,
        input=InputSpec(prefix=prefix, max_length=cfg.model.max_length),
        target=list(cfg.target.fields),
        extractive={
            "targets": list(cfg.target.fields),
            "default_target": cfg.target.default,
            "title_in_input": {f: f in cfg.target.title_in_input for f in cfg.target.fields},
            "sentences": {f: int(cfg.target.sentences.get(f, 1)) for f in cfg.target.fields},
            "blocking": cfg.target.blocking,
            "max_sentence_tokens": cfg.model.max_sentence_tokens,
        },
    )
    folder = ModelFolder(out_dir, manifest)  # evaluated before mlnews.json is written (last)
    from mlnews.evaluate.summariser import evaluate_summariser

    selection = _selection(cfg, folder, data_path)
    manifest.extra["extractive"]["first_sentence_bonus"] = {t: c["bonus"] for t, c in selection.items()}
    manifest.extra["extractive"]["textrank_weight"] = {t: c["textrank_weight"] for t, c in selection.items()}
    folder = ModelFolder(out_dir, manifest)

    try:
        metrics = evaluate_summariser(folder, data_path, d.test_split, None, max_examples=d.eval_max_examples, langs=d.langs)
    except InputError as exc:
        print(f"summariser: not evaluated: {exc}", flush=True)
        metrics = {"split": d.test_split, "n": 0, "not_evaluated": str(exc)}
    metrics["training"] = {k: v for k, v in history.items() if k != "log"}
    metrics["selection"] = selection
    write_json(folder.file(METRICS), metrics)
    write_card(out_dir, cfg, base, metrics)
    if not t.keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    folder.finish(manifest)
    return out_dir


def _selection(cfg: SummariserConfig, folder, data_path: str) -> dict:
    """``{target: {"textrank_weight", "bonus", ...}}``: the configured values, or the ones best on the
    validation split (``mlnews.evaluate.summariser.choose_selection``; a configured value is a grid of one)."""
    from mlnews.evaluate.summariser import FIRST_BONUS_GRID, TEXTRANK_WEIGHT_GRID, choose_selection

    tgt = cfg.target
    if tgt.first_sentence_bonus is not None and tgt.textrank_weight is not None:
        return {t: {"textrank_weight": float(tgt.textrank_weight), "bonus": float(tgt.first_sentence_bonus),
                    "chosen_on": "config"} for t in tgt.fields}
    bonuses = FIRST_BONUS_GRID if tgt.first_sentence_bonus is None else (float(tgt.first_sentence_bonus),)
    weights = TEXTRANK_WEIGHT_GRID if tgt.textrank_weight is None else (float(tgt.textrank_weight),)
    d = cfg.data
    try:
        found = choose_selection(folder, data_path, d.validation_split, langs=d.langs, bonus_grid=bonuses,
                                 weight_grid=weights)
    except InputError as exc:
        print(f"summariser: TextRank weight {weights[0]:g}, first-sentence bonus {bonuses[0]:g}: {exc}", flush=True)
        return {t: {"textrank_weight": weights[0], "bonus": bonuses[0], "chosen_on": f"nothing ({exc})"}
                for t in tgt.fields}
    for target, c in found.items():
        rows = "; ".join(f"weight {w:g}: " + ", ".join(f"{r:.1f}" for r in by_b.values()) for w, by_b in c["grid"].items())
        print(f"summariser: {target}: TextRank weight {c['textrank_weight']:g}, first-sentence bonus {c['bonus']:g} "
              f"(validation ROUGE-L, n={c['n']}, bonus {', '.join(f'{b:g}' for b in bonuses)} per weight: {rows})",
              flush=True)
        c["chosen_on"] = d.validation_split
    return found


def write_card(out_dir: Path, cfg: SummariserConfig, base: str, metrics: dict) -> None:
    """README.md from ``mlnews/templates/extractive_card.md``."""
    from importlib.resources import files
    from string import Template

    from mlnews.config import dump_yaml
    from mlnews.io import write_text

    template = Template(files("mlnews").joinpath("templates/extractive_card.md").read_text(encoding="utf-8"))
    lines = []
    for target, m in metrics.get("by_target", {}).items():
        for name, g in [("all", m)] + sorted(m.get("per_lang", {}).items()):
            lines.append(f"| {target} | {name} | {g['n']} | {g['rouge1']:.1f} | {g['rouge2']:.1f} | "
                         f"{g['rougeL']:.1f} | {g['chrf']:.1f} |")
    table = "\n".join(lines) or f"| not evaluated: {metrics.get('not_evaluated', '?')} | | | | | | |"
    tr = metrics.get("training", {})
    tgt = cfg.target
    inputs = "; ".join(f"{f}: {'title + ' if f in tgt.title_in_input else ''}sentences" for f in tgt.fields)
    text = template.substitute(
        name=out_dir.name,
        description=cfg.description or "(no description in the config)",
        targets=", ".join(tgt.fields), default=tgt.default, base=base,
        layers=cfg.model.layers or "all", max_length=cfg.model.max_length, input=inputs,
        labels=(f"greedy ROUGE-1+2 oracle against each target (mlnews razdel ROUGE), up to {tgt.oracle_max_sentences} "
                "sentences; per-sentence binary loss" if tgt.loss == "bce" else
                "each sentence's own (ROUGE-1 + ROUGE-2 F1) / 2 against each target (mlnews razdel ROUGE); listwise "
                f"loss, softmax temperature {tgt.temperature:g}"),
        bonus=", ".join(f"{t}: {c.get('bonus', 0):g}" for t, c in metrics.get("selection", {}).items()) or "none",
        textrank=", ".join(f"{t}: {c.get('textrank_weight', 0):g}" for t, c in metrics.get("selection", {}).items())
        or "none",
        sentences=", ".join(f"{f}: {tgt.sentences.get(f, 1)}" for f in tgt.fields), blocking=tgt.blocking,
        data=cfg.data.path, train_articles=tr.get("train_articles", "?"),
        examples=", ".join(f"{t} {r['examples']}" for t, r in tr.get("examples", {}).items()) or "?",
        steps=tr.get("global_step", "?"), epochs=tr.get("epochs_done", "?"),
        minutes=round(tr.get("train_seconds", 0) / 60, 1),
        time_limited="yes" if tr.get("stopped_by_time_limit") else "no",
        split=metrics.get("split", cfg.data.test_split), table=table, config=dump_yaml(cfg).rstrip(),
    )
    write_text(out_dir / "README.md", text)
