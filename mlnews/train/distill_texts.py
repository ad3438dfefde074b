"""The soft-label texts of a distillation run beside its labelled rows (``distill.unlabelled*``).

Each function returns ``(inputs, report)``: model inputs composed like the labelled rows (the teacher's
prefix included), and a report that counts what was read, what was used and why the rest was not, so
that ``read == kept + every reason`` (the model card and ``metrics.json`` ``distill_texts`` show it).

* :func:`unlabelled_inputs` (``distill.unlabelled``): the build's unlabelled article titles (its
  summarisation train split, the same groups as the classification train split);
* :func:`sentence_inputs` (``distill.unlabelled_sentences``): body sentences of those articles, each alone;
* :func:`file_inputs` (``distill.unlabelled_files``): rows of news-text files outside the build, read by the
  one input reader, less every row that is, or nearly is, a validation or test row of the build.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np

from mlnews.errors import MlnewsError
from mlnews.text import compose_text

if TYPE_CHECKING:
    from mlnews.train.config import ClassifierConfig
    from mlnews.train.inputs import PreparedData

log = logging.getLogger(__name__)


def training_articles(cfg: "ClassifierConfig", data: "PreparedData", key: str, otherwise: str) -> Any:
    """The build's summarisation train split (the same groups as the classification train split), or None with
    a warning (``key``: ``otherwise``) when the build has none; an unreadable split is a one-line error."""
    from datasets import load_from_disk

    path = Path(data.dataset_dir) / "summarisation"
    if not path.is_dir():
        log.warning("%s: %s has no summarisation split; %s", key, data.dataset_dir, otherwise)
        return None
    try:
        return load_from_disk(str(path))[cfg.data.train_split]
    except (KeyError, OSError, ValueError) as exc:
        raise MlnewsError(f"{path}: cannot read the {cfg.data.train_split!r} split ({exc})") from None


def unlabelled_inputs(cfg: "ClassifierConfig", data: "PreparedData", prefix: str) -> tuple[list[str], dict[str, int]]:
    """Composed inputs of the build's summarisation train articles that are not labelled training rows.

    Returns ``(inputs, report)``; the report counts what was read, kept and why the rest was not used.
    """
    report = {"read": 0, "kept": 0, "same_as_a_labelled_row": 0, "empty": 0, "capped": 0}
    split = training_articles(cfg, data, "distill.unlabelled", "distilling on labelled rows only")
    if split is None:
        return [], report
    seen = set(data.splits["train"].inputs)
    inputs: list[str] = []
    for row in split:
        report["read"] += 1
        title = (row.get("title") or "").strip()
        if not title:
            report["empty"] += 1
            continue
        text = compose_text(title, row.get("lead") or "", row.get("text") or "", use_lead=cfg.data.use_lead,
                            body_chars=cfg.data.body_chars, prefix=prefix)
        if text in seen:
            report["same_as_a_labelled_row"] += 1
            continue
        seen.add(text)
        inputs.append(text)
    cap = cfg.distill.max_unlabelled
    if cap is not None and len(inputs) > cap:
        rng = np.random.default_rng(cfg.train.seed)
        keep = sorted(rng.choice(len(inputs), size=cap, replace=False).tolist())
        report["capped"] = len(inputs) - cap
        inputs = [inputs[i] for i in keep]
    report["kept"] = len(inputs)
    return inputs, report


SENTENCE_WORDS = (4, 40)  # a body sentence shorter or longer (in words) is not headline-like: not used


def sentence_inputs(cfg: "ClassifierConfig", data: "PreparedData", prefix: str) -> tuple[list[str], dict[str, Any]]:
    """``distill.unlabelled_sentences``: body sentences of the build's summarisation train articles, each alone.

    A seeded sample of at most N, shared evenly between the languages (one with fewer sentences leaves the
    rest of its share to the others), so that the smaller language gets as many inputs as the larger one; or,
    with a mapping ``{lang: count}``, at most that many of each listed language and none of the others (a
    language with fewer usable sentences than asked gives what it has, with a warning).
    A wire-agency dateline, a sentence of fewer than 4 or more than 40 words, and one whose input equals a
    labelled row's are not used (counted). Returns ``(inputs, report)``.
    """
    from mlnews.ingest.sentences import is_dateline, split_sentences

    report: dict[str, Any] = {"articles": 0, "sentences": 0, "dateline": 0, "too_short_or_long": 0,
                              "same_as_a_labelled_row": 0, "by_lang": {}, "kept": 0}
    split = training_articles(cfg, data, "distill.unlabelled_sentences", "no sentences used")
    if split is None:
        return [], report
    seen = set(data.splits["train"].inputs)
    pools: dict[str, list[str]] = {}
    lo, hi = SENTENCE_WORDS
    for row in split:
        report["articles"] += 1
        for sentence in split_sentences(row.get("text") or ""):
            report["sentences"] += 1
            if is_dateline(sentence):
                report["dateline"] += 1
                continue
            if not lo <= len(sentence.split()) <= hi:
                report["too_short_or_long"] += 1
                continue
            text = compose_text(sentence, "", "", use_lead=False, body_chars=0, prefix=prefix)
            if text in seen:
                report["same_as_a_labelled_row"] += 1
                continue
            seen.add(text)
            pools.setdefault(row.get("lang") or "unknown", []).append(text)
    rng = np.random.default_rng(cfg.train.seed)
    wanted = cfg.distill.unlabelled_sentences
    inputs: list[str] = []
    for lang, share in _sentence_shares({g: len(p) for g, p in pools.items()}, wanted):
        pool = pools.get(lang, [])
        picked = sorted(rng.choice(len(pool), size=share, replace=False).tolist())  # size 0 draws nothing
        inputs += [pool[j] for j in picked]
        report["by_lang"][lang] = {"available": len(pool), "kept": share}
        if isinstance(wanted, dict):
            report["by_lang"][lang]["asked"] = wanted.get(lang, 0)
    report["kept"] = len(inputs)
    return inputs, report


def _sentence_shares(available: dict[str, int], wanted: int | dict[str, int]) -> list[tuple[str, int]]:
    """How many sentences each language gives, in the order they are drawn. A number: shared evenly, the
    smallest pool first, so that a language with fewer sentences leaves the rest of its share to the others.
    A mapping: that many of each listed language (at most its pool, with a warning), none of the others."""
    if isinstance(wanted, dict):
        shares = []
        for lang in sorted(set(available) | set(wanted)):
            have, asked = available.get(lang, 0), wanted.get(lang, 0)
            if asked > have:
                log.warning("distill.unlabelled_sentences: %s: %d asked, only %d usable sentences", lang, asked, have)
            shares.append((lang, min(have, asked)))
        return shares
    shares, left = [], wanted
    for i, lang in enumerate(sorted(available, key=lambda g: (available[g], g))):
        share = min(available[lang], left // (len(available) - i))
        shares.append((lang, share))
        left -= share
    return shares


NEAR_THRESHOLD = 0.8  # MinHash agreement of a near duplicate: the default build's dedup.threshold
BAD_ROWS_SHOWN = 3  # malformed rows of unlabelled_files named in the log (all are counted)


class _NearIndex:
    """Near-duplicate lookup against a fixed set of texts: the build's MinHash signatures (word 2-grams), every
    pair compared (no LSH banding, which misses some pairs just above the threshold; the sets are small)."""

    def __init__(self, texts: Iterable[str]):
        from mlnews.data.dedup import MinHasher

        self.hasher = MinHasher()
        sigs = [got[1] for got in map(self.hasher.signature, texts) if got is not None]
        self.sigs = np.stack(sigs) if sigs else np.zeros((0, self.hasher.num_perm), dtype=np.uint8)

    def near(self, text: str) -> bool:
        got = self.hasher.signature(text)
        if got is None or not len(self.sigs):
            return False
        return bool(((self.sigs == got[1]).mean(axis=1) >= NEAR_THRESHOLD).any())


def _resolved(values: Iterable[str], config: Any) -> list[str]:
    """``distill.unlabelled_files`` by the one path rule (a glob: its matches); a missing one is a one-line error."""
    from mlnews.config import PathResolver

    resolver = PathResolver(config)
    key = "distill.unlabelled_files"
    out: list[str] = []
    for value in values:
        if any(ch in value for ch in "*?["):
            out += [str(p) for p in resolver.many(value, key)]
        else:
            out.append(str(resolver.file(value, key, kind="file or folder")))
    return out


def file_inputs(cfg: "ClassifierConfig", data: "PreparedData", prefix: str, taken: Iterable[str] = ()
                ) -> tuple[list[str], dict[str, Any]]:
    """``distill.unlabelled_files``: the rows of those files as composed inputs, soft labels only.

    Read through the one input reader (:mod:`mlnews.ingest.inputs`, fields ``distill.unlabelled_files_columns``).
    A row is not used, and is counted by reason, when it is malformed (the first few are logged with their
    ``file:line``), not in a language of the build's training split (its ``lang`` field, else
    :func:`~mlnews.ingest.lang.detect_lang`), the same text (:func:`~mlnews.text.normalise_for_match`) as a
    validation or test row or nearly so (the build's MinHash, agreement >= 0.8): soft labels there would teach
    the student its teacher's answers on the rows that score it; the same text as a labelled training row;
    an input already taken (``taken``: the other soft-label inputs; or a repeat within the files). Then a
    seeded sample of at most ``distill.unlabelled_files_rows``. ``read == kept + skipped + every reason``.
    """
    from mlnews.config import config_file
    from mlnews.ingest.inputs import BadRow, Columns, iter_rows
    from mlnews.ingest.lang import detect_lang
    from mlnews.text import normalise_for_match

    d = cfg.distill
    paths = _resolved(d.unlabelled_files, config_file(cfg))
    cols = d.unlabelled_files_columns
    columns = Columns(text=cols["text"], lead=cols.get("lead"), body=cols.get("body"))
    held_out = [normalise_for_match(r["text"]) for role in ("validation", "test") if role in data.splits
                for r in data.splits[role].raw]
    near = _NearIndex(held_out)
    held_out_keys = set(held_out)
    train_keys = {normalise_for_match(r["text"]) for r in data.splits["train"].raw}
    seen = set(data.splits["train"].inputs) | set(taken)
    langs = set(data.splits["train"].langs)
    reasons = dict.fromkeys(("other_language", "same_as_validation_or_test", "near_validation_or_test",
                             "same_as_a_labelled_row", "duplicate"), 0)
    report: dict[str, Any] = {"files": paths, "read": 0, "skipped": {}, **reasons, "capped": 0, "by_lang": {},
                              "kept": 0}
    skipped: Counter = Counter()
    inputs: list[str] = []
    in_lang: list[str] = []
    bad_shown = 0
    for row in iter_rows(paths, columns):
        report["read"] += 1
        if isinstance(row, BadRow):
            skipped[row.code] += 1
            if bad_shown < BAD_ROWS_SHOWN:
                log.warning("distill.unlabelled_files: %s (row not used)", row)
                bad_shown += 1
            continue
        lang = row.fields.get("lang") if isinstance(row.fields.get("lang"), str) else None
        lang = lang or detect_lang(" ".join(p for p in (row.text, row.lead) if p))
        key = normalise_for_match(row.text)
        if lang not in langs:
            reason = "other_language"
        elif key in held_out_keys:
            reason = "same_as_validation_or_test"
        elif near.near(key):
            reason = "near_validation_or_test"
        elif key in train_keys:
            reason = "same_as_a_labelled_row"
        else:
            text = compose_text(row.text, row.lead, row.body, use_lead=cfg.data.use_lead,
                                body_chars=cfg.data.body_chars, prefix=prefix)
            reason = "duplicate" if text in seen else ""
            if not reason:
                seen.add(text)
                inputs.append(text)
                in_lang.append(lang)
        if reason:
            report[reason] += 1
    report["skipped"] = dict(skipped)
    cap = d.unlabelled_files_rows
    if cap is not None and len(inputs) > cap:
        keep = sorted(np.random.default_rng(cfg.train.seed).choice(len(inputs), size=cap, replace=False).tolist())
        report["capped"] = len(inputs) - cap
        inputs, in_lang = [inputs[i] for i in keep], [in_lang[i] for i in keep]
    report["by_lang"] = {g: in_lang.count(g) for g in sorted(set(in_lang))}
    report["kept"] = len(inputs)
    left_out = {k: report[k] for k in (*reasons, "capped") if report[k]} | {f"malformed ({k})": v for k, v in skipped.items()}
    log.info("distill.unlabelled_files: %d of %d rows used (%s)", len(inputs), report["read"],
             ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in left_out.items()) or "none left out")
    return inputs, report


def soft_label_texts(cfg: "ClassifierConfig", data: "PreparedData", prefix: str) -> tuple[list[str], dict[str, Any]]:
    """Every soft-label-only input of a distillation run, in order: the unlabelled titles, the body sentences
    (none equal to a title), the file rows (none equal to either). Returns ``(inputs, report)``; the report has
    ``unlabelled`` and, when configured, ``sentences`` (with ``added``) and ``files``."""
    d = cfg.distill
    inputs, titles = unlabelled_inputs(cfg, data, prefix) if d.unlabelled else ([], {})
    report: dict[str, Any] = {"unlabelled": titles}
    if d.unlabelled_sentences:
        sentences, report["sentences"] = sentence_inputs(cfg, data, prefix)
        seen = set(inputs)
        before = len(inputs)
        inputs = inputs + [t for t in sentences if t not in seen]
        report["sentences"]["added"] = len(inputs) - before  # a sentence equal to a title is there once
    if d.unlabelled_files:  # rows of files outside the build (leak-guarded against validation and test)
        rows, report["files"] = file_inputs(cfg, data, prefix, taken=inputs)
        inputs = inputs + rows
    return inputs, report


def training_side_texts(cfg: "ClassifierConfig", data: "PreparedData", extra_inputs: list[str]) -> Iterator[str]:
    """``distill.prune_vocab``'s corpus: the training side only (the labelled training inputs, the soft-label
    inputs, and the whole title, lead and body of the build's summarisation train articles), so that the
    validation and test rows meet the pruned vocabulary as any new text would."""
    yield from data.splits["train"].inputs
    yield from extra_inputs
    split = training_articles(cfg, data, "distill.prune_vocab", "the vocabulary comes from the training inputs only")
    for row in split or ():
        for key in ("title", "lead", "text"):
            if row.get(key):
                yield row[key]
