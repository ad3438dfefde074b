#!/usr/bin/env python
"""Benchmark the topic classifiers side by side: TF-IDF baseline, the default e5 transformer, and any folder.

Trains each config of ``--models`` with ``mlnews train`` (skipped when the model folder is already
complete) and takes every ``--folder NAME=DIR`` as it is (e.g. a distilled student or a model trained on
another build of the same test rows), then reports macro-F1 and accuracy overall, per language and per
source on the test split of each folder's training dataset (from its metrics.json), and on the bundled
sample (``data/sample``: original ru/uk headlines and articles), the Russian - Ukrainian gap of every
model on every subset that has both languages, a paired bootstrap of the macro-F1 gap of every model
against the first one (its rows must be the same test rows), macro-F1 on the validation split (all rows,
Ukrainian, and the Ukrainian publisher-labelled rows that ``split.validation_signal`` puts there; paired
with the first model where both trained on the same build), and the training time. Prints a Markdown
report (``--md FILE`` also writes it) and a JSON summary (``--json FILE``).

    python scripts/bench_classifier.py --out runs/bench               # trains both (~30 min CPU)
    python scripts/bench_classifier.py --models tfidf --out runs --folder e5-small=runs/e5-small \
        --folder e5-small-pseudo=runs/e5-small-pseudo --md /tmp/classifier.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from mlnews.io import write_json, write_text

REPO = Path(__file__).resolve().parent.parent
MODELS = {"tfidf": "configs/classifier/tfidf.yaml", "e5-small": "configs/classifier/e5-small.yaml"}
HELD_OUT_SOURCE = "mlnews_sample"  # the bundled sample, a `split: test` source of configs/data/default.yaml
SAMPLE = {  # file -> (text field, lead field, body field)
    "sample headlines": ("data/sample/headlines.jsonl", "title", "lead", "body"),
    "sample articles": ("data/sample/articles.jsonl", "title", "lead", "text"),
}


def train(name: str, config: str, out: Path) -> float | None:
    """Train unless ``out`` is already a finished model folder; returns wall seconds (None if skipped)."""
    if (out / "mlnews.json").is_file():
        print(f"[bench] {name}: using existing {out}", file=sys.stderr)
        return None
    cmd = [sys.executable, "-m", "mlnews", "train", str(REPO / config), "--out", str(out)]
    print(f"[bench] {' '.join(cmd)}", file=sys.stderr)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO)
    return time.perf_counter() - start


def backend_of(model_dir: Path) -> str:
    """torch for transformer and embedding folders (the numbers training reports; their int8 exports, which
    classify picks by default, are scored in benchmarks/inference.md), the folder's own engine otherwise."""
    kind = json.loads((model_dir / "mlnews.json").read_text(encoding="utf-8")).get("kind")
    return "torch" if kind in ("transformer", "embedding") else "auto"


def evaluate_test(model_dir: Path) -> dict:
    """Recompute the test-split metrics of the training dataset (same code path as `mlnews evaluate`)."""
    from mlnews.evaluate.classifier import evaluate_classifier, load_eval_rows

    trained = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    split = trained.get("split", "test")
    rows, name = load_eval_rows(Path(trained["dataset"]), split, label_field="label", text_field="text",
                                lead_field="lead", body_field="body")
    metrics = evaluate_classifier(model_dir, rows, model_dir / name, source_name=trained["dataset"],
                                  backend=backend_of(model_dir))
    metrics["train_seconds"] = trained.get("train_seconds")
    return metrics


def evaluate_validation(model_dir: Path) -> dict:
    """Score the validation split of the training dataset (what choices are made on) into ``eval-validation``."""
    from mlnews.evaluate.classifier import evaluate_classifier, load_eval_rows

    trained = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    rows, name = load_eval_rows(Path(trained["dataset"]), "validation", label_field="label", text_field="text",
                                lead_field="lead", body_field="body")
    return evaluate_classifier(model_dir, rows, model_dir / name, source_name=trained["dataset"],
                               backend=backend_of(model_dir))


def dataset_of(model_dir: Path) -> str:
    return json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))["dataset"]


def origins_of(dataset: str) -> dict[str, str]:
    """``id -> label_origin`` of the validation rows of a built dataset folder."""
    from mlnews.data import load_built

    ds = load_built(Path(dataset)).classification["validation"]
    return dict(zip(ds["id"], ds["label_origin"]))


PUBLISHER = ("gold", "source_rubric")
# subsets of the validation split; the last is the cell that split.validation_signal fills (docs/datasets.md)
VAL_PARTS = {
    "validation, all rows": lambda r, o: True,
    "validation, uk": lambda r, o: r["lang"] == "uk",
    "validation, uk, publisher labels": lambda r, o: r["lang"] == "uk" and o in PUBLISHER,
    "validation, uk, publisher labels, not society": lambda r, o: r["lang"] == "uk" and o in PUBLISHER
    and r["label"] != "society",
}


def validation_subsets(model_dirs: dict[str, Path], n_boot: int) -> dict:
    """Macro-F1 / accuracy of every model on VAL_PARTS, and a paired bootstrap of each model against the first
    where both were trained on the same dataset (else their validation rows differ and are not compared)."""
    from mlnews.evaluate.metrics import macro_f1, paired_bootstrap

    names = list(model_dirs)
    preds = {n: read_predictions(d / "eval-validation") for n, d in model_dirs.items()}
    origins = {ds: origins_of(ds) for ds in {dataset_of(d) for d in model_dirs.values()}}
    out: dict = {"models": {}, "bootstrap": {}}
    for n in names:
        rows, orig = preds[n], origins[dataset_of(model_dirs[n])]
        for part, keep in VAL_PARTS.items():
            sel = [r for i, r in rows.items() if keep(r, orig.get(i))]
            if sel:
                y, p = [r["label"] for r in sel], [r["pred"] for r in sel]
                out["models"].setdefault(n, {})[part] = {
                    "macro_f1": macro_f1(y, p), "accuracy": sum(a == b for a, b in zip(y, p)) / len(y), "n": len(y)}
    first = names[0]
    for n in names[1:]:
        if dataset_of(model_dirs[n]) != dataset_of(model_dirs[first]):
            continue
        orig = origins[dataset_of(model_dirs[first])]
        for part, keep in VAL_PARTS.items():
            ids = sorted(i for i, r in preds[first].items() if keep(r, orig.get(i)))
            if ids and set(ids) <= set(preds[n]):
                y = [preds[first][i]["label"] for i in ids]
                res = paired_bootstrap(y, [preds[first][i]["pred"] for i in ids], [preds[n][i]["pred"] for i in ids],
                                       n_boot=n_boot, seed=0)
                out["bootstrap"].setdefault(n, {})[part] = res
    return out


def evaluate_sample(model_dir: Path) -> dict[str, dict]:
    from mlnews.evaluate.classifier import evaluate_classifier, load_eval_rows

    results = {}
    for label, (path, text_f, lead_f, body_f) in SAMPLE.items():
        p = REPO / path
        if not p.is_file():
            continue
        rows, _ = load_eval_rows(p, "test", label_field="label", text_field=text_f, lead_field=lead_f, body_field=body_f)
        out = model_dir / f"eval-{p.stem}"
        results[label] = evaluate_classifier(model_dir, rows, out, source_name=str(p), backend=backend_of(model_dir))
    return results


# subsets of the test split: all rows, the ../shared/data rows, the held-out sample (data/sample)
PARTS = {"all test rows": lambda r: True, "shared data only": lambda r: r["source"] != HELD_OUT_SOURCE,
         "held-out sample only": lambda r: r["source"] == HELD_OUT_SOURCE}


def read_predictions(folder: Path) -> dict[str, dict]:
    with open(folder / "predictions.jsonl", encoding="utf-8") as fh:
        return {row["id"]: row for row in map(json.loads, fh)}


def bootstrap(model_dirs: dict[str, Path], n_boot: int) -> dict[str, dict]:
    """Two models on subsets of the test split, with a paired bootstrap of the macro-F1 gap (second - first).

    Subsets: overall and per language, each on all test rows, on the ../shared/data rows only and on
    the held-out sample only.
    """
    from mlnews.evaluate.metrics import paired_bootstrap

    (name_a, dir_a), (name_b, dir_b) = model_dirs.items()
    a, b = read_predictions(dir_a / "eval-test"), read_predictions(dir_b / "eval-test")
    if set(a) != set(b):
        raise SystemExit(f"{name_a} and {name_b} were scored on different test rows; cannot pair them")
    ids = sorted(a)
    out = {}
    for part, keep in PARTS.items():
        for lang in ["overall", *sorted({a[i]["lang"] for i in ids})]:
            sel = [i for i in ids if keep(a[i]) and (lang == "overall" or a[i]["lang"] == lang)]
            if not sel:
                continue
            y = [a[i]["label"] for i in sel]
            pa, pb = [a[i]["pred"] for i in sel], [b[i]["pred"] for i in sel]
            res = paired_bootstrap(y, pa, pb, n_boot=n_boot, seed=0)
            res["acc_a"] = sum(t == p for t, p in zip(y, pa)) / len(y)
            res["acc_b"] = sum(t == p for t, p in zip(y, pb)) / len(y)
            out[f"{part}, {lang}"] = res
    return out


def fmt(m: dict | None) -> str:
    return "-" if not m else f"{m['macro_f1']:.3f} / {m['accuracy']:.3f} ({m['n']})"


def subset_macro_f1(model_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """``part -> lang -> {"macro_f1"}`` on the test split's subsets (PARTS), from the scored predictions."""
    from mlnews.evaluate.metrics import macro_f1

    rows = list(read_predictions(model_dir / "eval-test").values())
    out: dict[str, dict[str, dict[str, float]]] = {}
    for part, keep in PARTS.items():
        for lang in sorted({r["lang"] for r in rows}):
            sel = [r for r in rows if keep(r) and r["lang"] == lang]
            if sel:
                out.setdefault(part, {})[lang] = {"macro_f1": macro_f1([r["label"] for r in sel], [r["pred"] for r in sel])}
    return out


def language_gaps(results: dict[str, dict]) -> list[str]:
    """Rows of "ru - uk" macro-F1 per model on every subset that has both languages."""
    names = [n for n in results if n not in ("bootstrap", "validation_subsets")]
    per_lang: dict[str, list[dict]] = {
        f"test split, {part.replace('all test rows', 'all rows')}": [results[n]["test_subsets"].get(part, {})
                                                                     for n in names] for part in PARTS}
    for label in SAMPLE:
        per_lang[label] = [(results[n]["sample"].get(label) or {}).get("per_lang", {}) for n in names]
    lines = ["| subset | " + " | ".join(f"{n}: ru / uk / ru - uk" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for label, cols in per_lang.items():
        cells = []
        for per in cols:
            if "ru" in per and "uk" in per:
                ru, uk = per["ru"]["macro_f1"], per["uk"]["macro_f1"]
                cells.append(f"{ru:.3f} / {uk:.3f} / {(ru - uk) * 100:+.1f}")
            else:
                cells.append("-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def report(results: dict[str, dict]) -> str:
    names = [n for n in results if n not in ("bootstrap", "validation_subsets")]
    head = "| set | " + " | ".join(f"{n} macro-F1 / acc (n)" for n in names) + f" | Δ macro-F1 vs {names[0]} |"
    sep = "|---|" + "---|" * (len(names) + 1)

    def row(label: str, ms: list[dict | None]) -> str:
        deltas = [f"{n}: {(m['macro_f1'] - ms[0]['macro_f1']) * 100:+.1f}" for n, m in zip(names[1:], ms[1:])
                  if m and ms[0]]
        return f"| {label} | " + " | ".join(fmt(m) for m in ms) + f" | {', '.join(deltas) or '-'} |"

    lines = ["### Test split of configs/data/default.yaml", "", head, sep]
    test = [results[n]["test"] for n in names]
    lines.append(row("**overall**", test))
    for key, title in (("per_lang", "lang"), ("per_source", "source")):
        groups = sorted({g for m in test for g in m.get(key, {})})
        for g in groups:
            lines.append(row(f"{title}={g}", [m.get(key, {}).get(g) for m in test]))
    a = names[0]
    for b, groups in results.get("bootstrap", {}).items():
        n_boot = next(iter(groups.values()))["n_boot"]
        lines += ["", f"#### Subsets, with a paired bootstrap of the gap ({b} - {a}; {n_boot} resamples of the rows)", "",
                  f"| subset (n) | {a} macro-F1 / acc | {b} macro-F1 / acc | Δ macro-F1 | 95% interval | "
                  "share of resamples with no gain |", "|---|---|---|---|---|---|"]
        for group, r in groups.items():
            lines.append(f"| {group} ({r['n']}) | {r['macro_f1_a']:.3f} / {r['acc_a']:.3f} | {r['macro_f1_b']:.3f} / {r['acc_b']:.3f} "
                         f"| {r['delta'] * 100:+.1f} | [{r['low'] * 100:+.1f}, {r['high'] * 100:+.1f}] "
                         f"| {r['p_b_not_better']:.3f} |")
    val = results.get("validation_subsets")
    if val:
        lines += ["", "### Validation split (what choices are made on; the Ukrainian publisher-labelled rows are the "
                  "signal of `split.validation_signal`)", "",
                  "| subset | " + " | ".join(f"{n} macro-F1 / acc (n)" for n in names) + " |", "|---|" + "---|" * len(names)]
        for part in VAL_PARTS:
            lines.append(f"| {part} | " + " | ".join(fmt(val["models"].get(n, {}).get(part)) for n in names) + " |")
        for b_name, groups in val["bootstrap"].items():
            lines += ["", f"Paired bootstrap on validation ({b_name} - {a}; {next(iter(groups.values()))['n_boot']} "
                      "resamples):", "", "| subset (n) | Δ macro-F1 | 95% interval | share of resamples with no gain |",
                      "|---|---|---|---|"]
            for part, r in groups.items():
                lines.append(f"| {part} ({r['n']}) | {r['delta'] * 100:+.1f} | [{r['low'] * 100:+.1f}, "
                             f"{r['high'] * 100:+.1f}] | {r['p_b_not_better']:.3f} |")
        skipped = [n for n in names[1:] if n not in val["bootstrap"]]
        if skipped:
            lines += ["", f"Not paired with {a} on validation (trained on another build, so other validation rows): "
                      + ", ".join(skipped) + "."]
    lines += ["", "### Bundled sample (data/sample: original ru/uk texts, not in ../shared/data)", "", head, sep]
    for label in SAMPLE:
        ms = [results[n]["sample"].get(label) for n in names]
        if not any(ms):
            continue
        lines.append(row(f"**{label}**", ms))
        for g in sorted({g for m in ms if m for g in m.get("per_lang", {})}):
            lines.append(row(f"{label}, lang={g}", [m.get("per_lang", {}).get(g) if m else None for m in ms]))
    lines += ["", "### Russian - Ukrainian macro-F1 (target: within 5 points on every subset with both)", "",
              *language_gaps(results)]
    lines += ["", "### Training time", "", "| model | train (s, fit only) | wall (s, whole command) |", "|---|---|---|"]
    for n in names:
        wall = results[n]["wall_seconds"]
        lines.append(f"| {n} | {results[n]['test'].get('train_seconds', '-')} | {'-' if wall is None else round(wall)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "bench", help="folder for the model folders")
    ap.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS),
                    help="configs to train into OUT/NAME (or reuse when finished there)")
    ap.add_argument("--folder", action="append", default=[], metavar="NAME=DIR",
                    help="a finished model folder to include as it is (repeatable; after --models, in order)")
    ap.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for the gap's interval")
    ap.add_argument("--md", type=Path, help="also write the Markdown report here")
    ap.add_argument("--json", type=Path, help="write all numbers as JSON here")
    args = ap.parse_args()
    dirs: dict[str, Path] = {}
    walls: dict[str, float | None] = {}
    for name in args.models:
        dirs[name] = args.out / name
        walls[name] = train(name, MODELS[name], dirs[name])
    for spec in args.folder:
        name, sep, path = spec.partition("=")
        if not sep or not name or not (Path(path) / "mlnews.json").is_file():
            raise SystemExit(f"--folder {spec}: expected NAME=DIR with a finished model folder (DIR/mlnews.json)")
        dirs[name], walls[name] = Path(path), None
    if len(dirs) < 1:
        raise SystemExit("nothing to benchmark: give --models and/or --folder")
    results: dict[str, dict] = {}
    for name, model_dir in dirs.items():
        results[name] = {"wall_seconds": walls[name], "test": evaluate_test(model_dir), "sample": evaluate_sample(model_dir),
                         "test_subsets": subset_macro_f1(model_dir), "validation": evaluate_validation(model_dir)}
    first = next(iter(dirs))
    boot = {n: bootstrap({first: dirs[first], n: d}, args.n_boot) for n, d in dirs.items() if n != first}
    if boot:
        results["bootstrap"] = boot
    results["validation_subsets"] = validation_subsets(dirs, args.n_boot)
    md = report(results)
    print(md)
    if args.md:
        write_text(args.md, md)  # atomic
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
