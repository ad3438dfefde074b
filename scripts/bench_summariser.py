"""Benchmark the summarisers on a dataset split and print a Markdown report (benchmarks/summariser.md).

Scores Lead-1/2/3, TextRank-1/3 (TF-IDF; optionally the e5 encoder) and every model folder given,
against the article's lead (summary) and title (headline), overall and per language, with
:func:`mlnews.evaluate.summariser.evaluate_summariser`. Adds one row scored with a Cyrillic-blind tokenizer
(the default of the ``rouge_score`` package) to show why we do not use it.

    python scripts/bench_summariser.py --data configs/data/default.yaml --split test \
        --model runs/summariser-e5-headline > benchmarks/summariser.md
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="configs/data/default.yaml", help="dataset folder, data config or JSONL")
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", action="append", default=[], help="a trained summariser folder (repeatable)")
    ap.add_argument("--encoder", default=None, help="also run TextRank with this encoder's similarity (e5-small)")
    args = ap.parse_args(argv)

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
