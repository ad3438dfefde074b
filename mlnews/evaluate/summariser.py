"""Score a summariser (``lead[-N]``, ``textrank[-N]`` or a model folder) on article rows with ROUGE and chrF.

The same code serves ``mlnews evaluate lead|textrank|MODEL DATA`` and ``mlnews train`` for
summarisers (which scores its test split through the :class:`~mlnews.infer.summariser.Summariser`
that users load). Scores come from :mod:`mlnews.evaluate.rouge` (razdel tokens, Cyrillic-correct),
overall and per language, against every reference the model is meant for: a model folder against the
target(s) in its manifest, untrained methods against both ``lead`` and ``title``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from mlnews.data.articles import article_rows, cap_rows
from mlnews.errors import InputError
from mlnews.evaluate.rouge import corpus_scores
from mlnews.infer.summariser import Summariser
from mlnews.io import atomic_write, write_json
from mlnews.modelfolder import METRICS, PREDICTIONS, ModelFolder
from mlnews.types import Article

UNTRAINED = re.compile(r"(lead|textrank)(-\d+)?")  # lead, lead-3, textrank, textrank-1 ...
TARGETS = ("lead", "title")
TOKENIZER_NOTE = "razdel, lowercased, ё->е, punctuation dropped, no stemming"


def is_summariser(model: str | Path) -> bool:
    """``lead``/``textrank`` names, or a model folder whose manifest says summarisation."""
    if UNTRAINED.fullmatch(str(model)):
        return True
    return Path(model).is_dir() and ModelFolder.open(model).manifest.task == "summarisation"


def model_targets(folder: ModelFolder) -> list[str]:
    """The references a trained summariser is scored against (its manifest's ``target``: one or a list)."""
    target = folder.manifest.extra.get("target", "lead")
    return list(target) if isinstance(target, list) else [target]


def evaluate_summariser(model: str | Path | ModelFolder, data: str, split: str, out_dir: Path | None, *,
                        max_examples: int | None = None, langs: list[str] | None = None) -> dict:
    """Score ``model`` on ``split`` of ``data``; write metrics.json (+ predictions.jsonl) to ``out_dir``.

    Articles without a reference are counted as skipped per target. Top-level numbers are those of
    the first target.
    """
    if isinstance(model, ModelFolder):
        folder: ModelFolder | None = model
    elif Path(model).is_dir():
        folder = ModelFolder.open(model, task="summarisation")
    else:
        folder = None
    summariser = Summariser.from_folder(folder) if folder else Summariser.load(str(model))
    targets = model_targets(folder) if folder else list(TARGETS)
    if hasattr(summariser, "for_target"):
        summariser = summariser.for_target(targets[0])
    rows = article_rows(data, split, langs)
    if not rows:
        raise InputError(f"{data}: split {split!r} has no articles")
    rows = cap_rows(rows, max_examples, 13)
    # Articles (title + body): a trained extractive model reads the title for its lead target.
    items = [Article(title=r["title"], paragraphs=[r["text"]]) for r in rows if r["text"].strip()]
    t0 = time.perf_counter()
    summaries = summariser.summarise_many(items)
    seconds = time.perf_counter() - t0
    preds = iter(s.text for s in summaries)
    pred_by_row = [next(preds) if r["text"].strip() else None for r in rows]
    per_target_preds = {targets[0]: pred_by_row}
    for target in targets[1:]:
        if hasattr(summariser, "for_target"):  # one head per target: summarise again for that target
            other = iter(s.text for s in summariser.for_target(target).summarise_many(items))
            per_target_preds[target] = [next(other) if r["text"].strip() else None for r in rows]
        else:
            per_target_preds[target] = pred_by_row

    by_target = {}
    for target in targets:
        pred_by_row = per_target_preds[target]
        idx = [i for i, r in enumerate(rows) if r[target].strip() and pred_by_row[i] is not None]
        scores = corpus_scores([pred_by_row[i] for i in idx], [rows[i][target] for i in idx],
                               [rows[i]["lang"] for i in idx])
        scores["skipped_no_reference"] = len(rows) - len(idx)
        by_target[target] = scores
    pred_by_row = per_target_preds[targets[0]]
    main = by_target[targets[0]]
    result = {
        "model": str(folder.path) if folder else str(model),
        "method": summariser.method,
        "data": str(data),
        "split": split,
        "target": targets[0],
        "articles": len(rows),
        **{k: main[k] for k in ("n", "rouge1", "rouge2", "rougeL", "chrf", "per_lang", "skipped_no_reference")},
        "by_target": by_target,
        "seconds_per_article": round(seconds / max(1, len(summaries)), 4),
        "tokenizer": TOKENIZER_NOTE,
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        write_json(out_dir / METRICS, result)
        with atomic_write(out_dir / PREDICTIONS) as fh:
            for r, p in zip(rows, pred_by_row):
                rec = {"id": r["id"], "lang": r["lang"], "prediction": p, "lead": r["lead"], "title": r["title"]}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return result


FIRST_BONUS_GRID = (0.0, 0.5, 1.0, 2.0, 4.0)
TEXTRANK_WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def choose_selection(folder: ModelFolder, data: str, split: str, *, langs: list[str] | None = None,
                     bonus_grid: tuple[float, ...] = FIRST_BONUS_GRID,
                     weight_grid: tuple[float, ...] = TEXTRANK_WEIGHT_GRID) -> dict:
    """Per target of a trained extractive folder: the TextRank weight and the first-sentence bonus
    (:func:`mlnews.infer.extractive_model.choose`) with the best mean ROUGE-L on ``split``; ties go to the
    smaller weight, then the smaller bonus (the simpler selection). Sentences are scored, and their TextRank
    centrality computed, once per target and article.

    Returns ``{target: {"textrank_weight", "bonus", "n", "grid": {weight: {bonus: R-L %}}}}``; a target without
    a reference in the split gets 0 and 0, ``n`` 0.
    """
    from mlnews.evaluate.rouge import rouge_l, tokenize
    from mlnews.infer.extractive import centrality

    summariser = Summariser.from_folder(folder)
    rows = [r for r in article_rows(data, split, langs) if r["text"].strip()]
    out = {}
    for target in model_targets(folder):
        model = summariser.for_target(target)
        keep = [r for r in rows if r[target].strip()]
        items = [Article(title=r["title"], paragraphs=[r["text"]]) for r in keep]
        scored = [(sents, skip, scores) for _, _, sents, _, _, skip, scores in model.scored(items)]
        central = [centrality(sents[skip:]) if any(weight_grid) else None for sents, skip, _ in scored]
        refs = [tokenize(r[target]) for r in keep]
        grid: dict[float, dict[float, float]] = {}
        for weight in weight_grid:
            grid[weight] = {}
            for bonus in bonus_grid:
                vals = [rouge_l(tokenize(" ".join(sents[i] for i in model.pick(
                            scores, sents, skip, first_bonus=bonus, textrank_weight=weight, centrality=c))), ref)
                        for (sents, skip, scores), c, ref in zip(scored, central, refs)]
                grid[weight][bonus] = round(100 * sum(vals) / len(vals), 2) if vals else 0.0
        if keep:
            weight, bonus = max(((w, b) for w in weight_grid for b in bonus_grid),
                                key=lambda wb: (grid[wb[0]][wb[1]], -wb[0], -wb[1]))
        else:
            weight, bonus = 0.0, 0.0
        out[target] = {"textrank_weight": weight, "bonus": bonus, "n": len(keep), "grid": grid}
    return out
