"""Benchmark the summarisers on a dataset split and print a Markdown report (benchmarks/summariser.md).

Scores Lead-1/2/3, TextRank-1/3 (TF-IDF; optionally the e5 encoder) and every model folder given,
against the article's lead (summary) and title (headline), overall and per language, with
:func:`mlnews.evaluate.summariser.evaluate_summariser`. Adds one row scored with a Cyrillic-blind tokenizer
(the default of the ``rouge_score`` package) to show why we do not use it.

    python scripts/bench_summariser.py --data configs/data/default.yaml --split test \
        --model runs/summariser-e5-headline > benchmarks/summariser.md
    python scripts/bench_summariser.py --data configs/data/default.yaml --split test \
        --extractive runs/summariser-extractive      # the trained extractive model vs lead-k / TextRank-k
    python scripts/bench_summariser.py --split test --extractive runs/s13 --extractive runs/s14   # seeds, one run
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path


def _machine() -> str:
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores visible (shared with other jobs), Python {platform.python_version()}, "
            f"torch {torch.__version__}, transformers {transformers.__version__}")


def _row(name: str, res: dict, target: str) -> str:
    m = res["by_target"].get(target)
    if m is None:
        return ""
    cells = [f"{m['rouge1']:.1f} / {m['rouge2']:.1f} / {m['rougeL']:.1f}", f"{m['chrf']:.1f}"]
    for lang in ("ru", "uk"):
        pl = m.get("per_lang", {}).get(lang)
        cells.append(f"{pl['rouge1']:.1f} / {pl['rouge2']:.1f} / {pl['rougeL']:.1f} (n={pl['n']})" if pl else "–")
    return f"| {name} | {m['n']} | " + " | ".join(cells) + f" | {res['seconds_per_article'] * 1000:.1f} |"


# ------------------------------------------------------------------------ trained extractive model

BASELINES = ("lead-1", "lead-2", "lead-3", "textrank-1", "textrank-2", "textrank-3")


def _articles_from(rows: list[dict]):
    from mlnews.types import Article

    return [Article(title=r["title"], paragraphs=[r["text"]]) for r in rows]


def _timing(summariser, articles, repeats: int = 1) -> float:
    """Median seconds per article of ``summariser.summarise`` (splitting and language detection included)."""
    import statistics

    times = []
    for a in articles:
        for _ in range(repeats):
            t0 = time.perf_counter()
            summariser.summarise(a)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _forty_sentence_articles(rows: list[dict], n: int = 20) -> list:
    """Articles of exactly 40 sentences: consecutive test bodies' sentences run together (real text)."""
    from mlnews.ingest.sentences import split_sentences
    from mlnews.types import Article

    pool = [s for r in rows for s in split_sentences(r["text"])]
    return [Article(title=rows[i % len(rows)]["title"], paragraphs=pool[i * 40:(i + 1) * 40])
            for i in range(min(n, len(pool) // 40))]


def extractive_report(folders: list[str], data: str, split: str, n_boot: int = 2000) -> list[str]:
    """Markdown: one or more trained extractive models (e.g. seeds of one config) beside lead-k / TextRank-k
    and the oracle, per target and language (R-1/R-2/R-L), the paired bootstrap interval of each model's
    R-L gap to the best baseline, and each model's inference time per 40-sentence article (its default
    target). A folder is compared on the targets it has (e.g. a lead-only and a title-only model)."""
    import torch

    from mlnews.data.articles import article_rows
    from mlnews.evaluate.metrics import paired_bootstrap_mean
    from mlnews.evaluate.rouge import score_pair, tokenize
    from mlnews.infer.summariser import Summariser
    from mlnews.train.extractive import article_sentences, greedy_oracle

    torch.set_num_threads(2)
    rows = [r for r in article_rows(data, split) if r["text"].strip()]
    articles = _articles_from(rows)
    models = {folder: Summariser.load(folder) for folder in folders}
    targets = [t for t in ("lead", "title") if any(t in m.targets for m in models.values())]
    having = {t: [f for f in folders if t in models[f].targets] for t in targets}  # a folder may have one head
    preds: dict[str, dict[str, list[str]]] = {}  # method -> target -> texts
    seconds: dict[str, float] = {}
    for name in BASELINES:
        print(f"bench: {name}", file=sys.stderr, flush=True)
        method = Summariser.load(name)
        method.summarise_many(articles[:2])  # warm-up (imports), not timed
        t0 = time.perf_counter()
        texts = [s.text for s in method.summarise_many(articles)]
        seconds[name] = (time.perf_counter() - t0) / len(rows)
        preds[name] = {"lead": texts, "title": texts}
    for folder, m in models.items():
        preds[folder] = {}
        for target in [t for t in targets if folder in having[t]]:
            print(f"bench: {folder} target {target}", file=sys.stderr, flush=True)
            m.for_target(target).summarise_many(articles[:2])  # warm-up, not timed
            t0 = time.perf_counter()
            preds[folder][target] = [s.text for s in m.for_target(target).summarise_many(articles)]
            seconds[folder + ":" + target] = (time.perf_counter() - t0) / len(rows)
    oracle = {}
    for target in ("lead", "title"):
        texts = []
        for r in rows:
            sents, skip = article_sentences(r["text"])
            idx = greedy_oracle([tokenize(s) for s in sents], tokenize(r[target]), 1, skip) if r[target].strip() else []
            texts.append(sents[idx[0]] if idx else sents[skip])
        oracle[target] = texts
    preds["oracle-1"] = oracle

    out = ["### Trained extractive model vs. the baselines (one run)", "",
           f"Model{'s' if len(folders) > 1 else ''} {', '.join(f'`{f}`' for f in folders)} (targets "
           f"{', '.join(targets)}); every method summarises the same "
           f"{len(rows)} {split} articles (body + title). R-1 / R-2 / R-L F1 in %; oracle-1 = the single "
           "sentence with the best ROUGE-1+2 against the reference (the ceiling of a one-sentence summary).", ""]
    gaps = ["", "#### Gap of ROUGE-L to the best baseline (paired bootstrap, 95 % interval, "
            f"{n_boot} resamples; best baseline = highest R-L on this split, chosen per target and language)", "",
            "| target | lang | model | n | best baseline | its R-L | model R-L | gap | 95 % interval | P(gap <= 0) |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for target in targets:
        out += [f"#### Reference: {target}", "", "| method | " + " | ".join(
            f"{lang} R-1 / R-2 / R-L (n)" for lang in ("ru", "uk", "all")) + " | ms/article |",
            "|---|---|---|---|---|"]
        per_method: dict[str, dict[str, list]] = {}
        for name in list(BASELINES) + having[target] + ["oracle-1"]:
            texts = preds[name][target]
            pairs = {}
            cells = []
            for lang in ("ru", "uk", "all"):
                idx = [i for i, r in enumerate(rows) if r[target].strip() and (lang == "all" or r["lang"] == lang)]
                sc = [score_pair(texts[i], rows[i][target]) for i in idx]
                pairs[lang] = [100 * p.rougeL for p in sc]
                if idx:
                    cells.append(f"{100 * sum(p.rouge1 for p in sc) / len(sc):.1f} / "
                                 f"{100 * sum(p.rouge2 for p in sc) / len(sc):.1f} / "
                                 f"{100 * sum(p.rougeL for p in sc) / len(sc):.1f} ({len(sc)})")
                else:
                    cells.append("–")
            per_method[name] = pairs
            ms = seconds.get(name if name not in models else f"{name}:{target}")
            label = f"**trained `{name}` ({target} head)**" if name in models else name
            out.append(f"| {label} | " + " | ".join(cells) + f" | {ms * 1000:.0f} |" if ms is not None else
                       f"| {label} | " + " | ".join(cells) + " | – |")
        out.append("")
        for lang in ("ru", "uk", "all"):
            if not per_method[having[target][0]][lang]:
                continue
            best = max(BASELINES, key=lambda b: sum(per_method[b][lang]))
            for folder in having[target]:
                bs = paired_bootstrap_mean(per_method[best][lang], per_method[folder][lang], n_boot=n_boot, seed=13)
                gaps.append(f"| {target} | {lang} | `{folder}` | {bs['n']} | {best} | {bs['mean_a']:.1f} | {bs['mean_b']:.1f} | "
                            f"{bs['delta']:+.1f} | [{bs['low']:+.1f}, {bs['high']:+.1f}] | {bs['p_b_not_better']:.3f} |")
    out += gaps
    forty = _forty_sentence_articles(rows)
    if forty:
        out += ["", f"#### Inference time, {len(forty)} articles of 40 sentences (real sentences of the split run "
                "together), 2 torch threads, median per article, `summarise` whole (split + language + scoring)", "",
                "| method | ms / 40-sentence article |", "|---|---|"]
        timed = [("lead-3", Summariser.load("lead-3")), ("textrank-3", Summariser.load("textrank-3"))]
        timed += [(f"trained `{f}` ({m.target})", m) for f, m in models.items()]
        for name, s in timed:
            _timing(s, forty[:2])  # warm-up
            out.append(f"| {name} | {_timing(s, forty) * 1000:.0f} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="configs/data/default.yaml", help="dataset folder, data config or JSONL")
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", action="append", default=[], help="a trained summariser folder (repeatable)")
    ap.add_argument("--encoder", default=None, help="also run TextRank with this encoder's similarity (e5-small)")
    ap.add_argument("--extractive", action="append", default=[], metavar="DIR",
                    help="a trained extractive model folder (repeatable: e.g. seeds of one config): only the comparison "
                         "with lead-k / TextRank-k / the oracle, per target and language, with paired bootstrap "
                         "intervals and each folder's 40-sentence timing; a folder is compared on the targets it has")
    ap.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for --extractive")
    args = ap.parse_args(argv)
    if args.extractive:
        print(f"Command: `python scripts/bench_summariser.py --data {args.data} --split {args.split} "
              + "".join(f"--extractive {f} " for f in args.extractive).rstrip() + f"`\n\nMachine: {_machine()}\n")
        print("\n".join(extractive_report(args.extractive, args.data, args.split, args.n_boot)))
        return 0

    from mlnews.infer.summariser import Summariser
    from mlnews.evaluate.rouge import corpus_scores, latin_only_tokenize
    from mlnews.data.articles import article_rows as load_rows
    from mlnews.evaluate.summariser import evaluate_summariser as evaluate

    methods = ["lead-1", "lead-2", "lead-3", "textrank-1", "textrank-3"]
    results: list[tuple[str, dict]] = []
    for m in methods:
        print(f"bench: {m}", file=sys.stderr, flush=True)
        results.append((m, evaluate(m, args.data, args.split, None)))
    if args.encoder:
        print(f"bench: textrank-1 + {args.encoder}", file=sys.stderr, flush=True)
        s = Summariser.load("textrank-1", similarity=args.encoder)
        rows = [r for r in load_rows(args.data, args.split) if r["text"].strip()]
        t0 = time.perf_counter()
        preds = [x.text for x in s.summarise_many([r["text"] for r in rows])]
        spa = (time.perf_counter() - t0) / max(1, len(rows))
        by_target = {}
        for target in ("lead", "title"):
            idx = [i for i, r in enumerate(rows) if r[target].strip()]
            by_target[target] = corpus_scores([preds[i] for i in idx], [rows[i][target] for i in idx],
                                              [rows[i]["lang"] for i in idx])
        results.append((f"textrank-1 ({args.encoder} similarity)", {"by_target": by_target, "seconds_per_article": spa}))
    for folder in args.model:
        print(f"bench: {folder}", file=sys.stderr, flush=True)
        res = evaluate(folder, args.data, args.split, None)
        results.append((f"{Path(folder).name} (trained, target {res['target']})", res))

    # The Cyrillic-blind tokenizer on Lead-1, to show what rouge_score's default would report.
    rows = [r for r in load_rows(args.data, args.split) if r["text"].strip()]
    lead1 = [x.text for x in Summariser.load("lead-1").summarise_many([r["text"] for r in rows])]
    blind = {}
    for target in ("lead", "title"):
        idx = [i for i, r in enumerate(rows) if r[target].strip()]
        blind[target] = corpus_scores([lead1[i] for i in idx], [rows[i][target] for i in idx],
                                      [rows[i]["lang"] for i in idx], tokenizer=latin_only_tokenize)

    out = [f"Command: `python scripts/bench_summariser.py --data {args.data} --split {args.split}"
           + "".join(f" --model {m}" for m in args.model) + (f" --encoder {args.encoder}" if args.encoder else "") + "`",
           "", f"Machine: {_machine()}", ""]
    head = ("| method | n | R-1 / R-2 / R-L | chrF | ru R-1 / R-2 / R-L | uk R-1 / R-2 / R-L | ms/article |\n"
            "|---|---|---|---|---|---|---|")
    for target, label in (("lead", "Target: the article's lead (summary)"), ("title", "Target: the title (headline)")):
        out += [f"### {label}", "", head]
        out += [r for r in (_row(name, res, target) for name, res in results) if r]
        b = blind[target]
        out.append(f"| lead-1, scored with a Cyrillic-blind tokenizer ([a-z0-9] only) | {b['n']} | "
                   f"{b['rouge1']:.1f} / {b['rouge2']:.1f} / {b['rougeL']:.1f} | – | – | – | – |")
        out.append("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
