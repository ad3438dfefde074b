#!/usr/bin/env python
"""How faithfully distilled students copy their teacher, on held-out inputs only: a label-free validation signal.

The gold validation split of the default build has few Ukrainian topical rows (146 Ukrainian rows, 27 of them
publisher-labelled and not ``society``), too few to choose between students. A student's job is to copy its
teacher, and the teacher was itself chosen on validation, so this scores each student's predictions against
the teacher's (the teacher's top label is the reference) on inputs that no model trained on:

* ``validation rows``: the classification validation split's inputs;
* ``validation articles``: the build's summarisation validation articles (their groups are disjoint from
  the train and test splits), composed like a classifier input (title + lead + start of body);
* ``validation sentences``: the body sentences of those articles (4-40 words, no datelines), the kind of
  input a student is distilled on (``distill.unlabelled_sentences``, training articles only).

For each set and language it reports the number of inputs, the agreement (share of equal top labels) and
the fidelity macro-F1 (macro-F1 of the student against the teacher's labels, over the labels the teacher
predicts), and the mean over the students of each ``--recipe`` prefix. Nothing is read from the test split.

    python scripts/bench_fidelity.py --teacher runs/e5-small --data ~/.cache/mlnews/datasets/default-... \
        --student runs/stu-base-s13 --student runs/stu-base-s14 --recipe stu-base --md fidelity.md
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from mlnews.infer.classifier import Classifier
from mlnews.ingest.sentences import is_dateline, split_sentences
from mlnews.io import write_json, write_text
from mlnews.train.distill_texts import SENTENCE_WORDS  # the filter of distill.unlabelled_sentences
from mlnews.train.distill import fidelity as distill_fidelity


def held_out_inputs(data: Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """``{set name: [(lang, text, lead, body), ...]}`` from the build's validation splits."""
    from datasets import load_from_disk

    rows = load_from_disk(str(data / "classification"))["validation"]
    sets: dict[str, list[tuple[str, str, str, str]]] = {
        "validation rows": [(r["lang"], r["text"], r.get("lead") or "", r.get("body") or "") for r in rows]}
    summ = data / "summarisation"
    if summ.is_dir():
        articles = load_from_disk(str(summ))["validation"]
        sets["validation articles"] = [(r["lang"], r["title"] or "", r.get("lead") or "", r.get("text") or "")
                                       for r in articles if (r["title"] or "").strip()]
        lo, hi = SENTENCE_WORDS
        sets["validation sentences"] = [
            (r["lang"], s, "", "") for r in articles for s in split_sentences(r.get("text") or "")
            if not is_dateline(s) and lo <= len(s.split()) <= hi]
    return sets


def top_labels(model: Path, sets: dict[str, list[tuple[str, str, str, str]]]) -> dict[str, list[str]]:
    """The folder's top label for each item of each set (torch backend: the weights training produced); the
    folder is loaded once."""
    clf = Classifier.load(model, backend="torch")
    out = {}
    for name, items in sets.items():
        print(f"[fidelity] {model} on {name} ({len(items)} inputs)", file=sys.stderr)
        probs = clf.raw_proba([t for _, t, _, _ in items], leads=[x for _, _, x, _ in items],
                              bodies=[b for _, _, _, b in items])
        out[name] = [clf.labels.decode(int(j)) for j in probs.argmax(1)]
    return out


def fidelity(teacher: list[str], student: list[str], langs: list[str]) -> dict[str, dict[str, float]]:
    """Per language and overall: n, agreement and macro-F1 of the student against the teacher's labels (the
    library's :func:`mlnews.train.distill.fidelity`, which a student's training also reports on validation)."""
    names = sorted(set(teacher) | set(student))
    code = {n: i for i, n in enumerate(names)}
    return distill_fidelity([code[x] for x in teacher], [code[x] for x in student], langs, len(names))


def report(results: dict, recipes: list[str]) -> str:
    """Markdown: one table per set (every student), then the recipe means."""
    lines = []
    for name, per_student in results["sets"].items():
        lines += [f"### {name}", "", "| student | n (ru / uk) | agreement all / ru / uk | fidelity macro-F1 all / ru / uk |",
                  "|---|---|---|---|"]
        for student, f in per_student.items():
            n = f"{f.get('ru', {}).get('n', 0)} / {f.get('uk', {}).get('n', 0)}"
            agree = " / ".join(f"{f[g]['agreement']:.3f}" for g in ("all", "ru", "uk") if g in f)
            mf1 = " / ".join(f"{f[g]['macro_f1']:.3f}" for g in ("all", "ru", "uk") if g in f)
            lines.append(f"| {student} | {n} | {agree} | {mf1} |")
        lines.append("")
    if recipes:
        lines += ["### recipe means (fidelity macro-F1)", "", "| recipe | students | " +
                  " | ".join(f"{s} ({g})" for s in results["sets"] for g in ("ru", "uk")) + " |",
                  "|---|---|" + "---|" * (2 * len(results["sets"]))]
        for recipe, row in results["recipes"].items():
            cells = [f"{row[s][g]:.3f}" if g in row[s] else "-" for s in results["sets"] for g in ("ru", "uk")]
            lines.append(f"| {recipe} | {row['students']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", type=Path, required=True, help="the teacher's model folder")
    ap.add_argument("--data", type=Path, required=True, help="the dataset folder the teacher was trained on")
    ap.add_argument("--student", type=Path, action="append", required=True, help="a student folder (repeat)")
    ap.add_argument("--recipe", action="append", default=[],
                    help="a name prefix: also report the mean over the students whose folder name starts with it")
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    ap.add_argument("--md", type=Path, help="write the Markdown report here")
    args = ap.parse_args(argv)
    sets = held_out_inputs(args.data.expanduser())
    results: dict = {"teacher": str(args.teacher), "data": str(args.data), "sets": {}, "recipes": {}}
    teacher = top_labels(args.teacher, sets)
    results["sets"] = {name: {} for name in sets}
    for student in args.student:
        labels = top_labels(student, sets)
        for name, items in sets.items():
            results["sets"][name][student.name] = fidelity(teacher[name], labels[name], [g for g, *_ in items])
    for recipe in args.recipe:
        members = [s.name for s in args.student if s.name.startswith(recipe)]
        row: dict = {"students": len(members)}
        for name in sets:
            sums: dict[str, list[float]] = defaultdict(list)
            for m in members:
                for g, f in results["sets"][name][m].items():
                    sums[g].append(f["macro_f1"])
            row[name] = {g: round(float(np.mean(v)), 4) for g, v in sums.items()}
        results["recipes"][recipe] = row
    md = report(results, args.recipe)
    print(md)
    if args.json:
        write_json(args.json, results)
    if args.md:
        write_text(args.md, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
