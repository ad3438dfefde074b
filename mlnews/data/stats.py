"""Human-readable ``stats.md`` from the ``stats.json`` of a build."""

from __future__ import annotations

from collections import Counter, defaultdict

from mlnews.data.config import SPLITS


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def split_label_table(stats: dict) -> tuple[list[str], list[list]]:
    """Rows: label; columns: split counts and total (classification)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in stats["classification"]["rows"]:
        counts[r["label"]][r["split"]] += r["count"]
    rows = [[lab] + [counts[lab][s] for s in SPLITS] + [sum(counts[lab].values())] for lab in stats["labels"]]
    totals = [sum(r[i] for r in rows) for i in range(1, 5)]
    return ["label", *SPLITS, "total"], rows + [["**total**", *totals]]


def render_stats_md(stats: dict) -> str:
    """Markdown report: per split x label, per source x lang x origin, dropped rows by reason."""
    out = [f"# Dataset `{stats['name']}` (seed {stats['seed']})", ""]
    out.append(f"Input rows: {stats['input_rows']} ({stats['input_articles']} articles, "
               f"{stats['input_rows'] - stats['input_articles']} headlines).")
    out += ["", "## Classification: split x label", ""]
    header, rows = split_label_table(stats)
    out.append(_table(header, rows))

    per: dict[tuple, Counter] = defaultdict(Counter)
    for r in stats["classification"]["rows"]:
        per[(r["source"], r["lang"], r["kind"], r["label_origin"])][r["split"]] += r["count"]
    out += ["", "## Classification: source x lang x kind x label origin", ""]
    out.append(_table(["source", "lang", "kind", "label_origin", *SPLITS],
                      [[*k, *(c[s] for s in SPLITS)] for k, c in sorted(per.items())]))

    summ: dict[tuple, Counter] = defaultdict(Counter)
    for r in stats["summarisation"]["rows"]:
        summ[(r["source"], r["lang"])][r["split"]] += r["count"]
    out += ["", "## Summarisation: source x lang", ""]
    out.append(_table(["source", "lang", *SPLITS], [[*k, *(c[s] for s in SPLITS)] for k, c in sorted(summ.items())]))

    out += ["", "## Dropped rows by reason", ""]
    rows = []
    for src, d in stats["sources"].items():
        for task in ("classification", "summarisation"):
            for reason, c in sorted(d[f"{task}_dropped"].items()):
                rows.append([src, task, reason, c])
    out.append(_table(["source", "task", "reason", "rows"], rows) if rows else "None.")
    if stats["unmapped_labels"]:
        out += ["", "## Unmapped source labels (not guessed; see the label_maps of the config)", ""]
        out.append(_table(["source", "label", "rows"],
                          [[s, lab, c] for s, d in stats["unmapped_labels"].items() for lab, c in d.items()]))
    if stats["capped"]:
        out += ["", "## Capped", ""]
        out.append(_table(["config source", "rows capped"], [[k, v] for k, v in stats["capped"].items()]))
    w = stats["weak"]
    out += ["", "## Weak labels", "",
            f"Methods {', '.join(w['methods']) or '(none)'}, threshold {w['threshold']}: pool {w['pool']} rows; "
            + ", ".join(f"{m}: {c}" for m, c in w["labelled"].items())
            + f"; below threshold: {w['below_threshold']}; TF-IDF trained on {w['tfidf_train_rows']} rows."]
    d = stats["dedup"]
    out += ["", "## Dedup", "",
            f"Exact duplicates dropped: {d['exact_duplicates']}; near-duplicate unions: {d['near_duplicate_unions']}; "
            f"same-body unions: {d['same_body_unions']}; groups with several rows: {d['groups_with_several_rows']} "
            f"({d['rows_in_shared_groups']} rows)."]
    return "\n".join(out) + "\n"
