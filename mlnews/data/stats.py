"""Build statistics: ``stats.json`` (:func:`compute_stats`) and its human-readable ``stats.md``."""

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
    if stats.get("pseudo"):
        p = stats["pseudo"]
        out += ["", "## Pseudo-labels (`pseudo:`, training rows only)", "",
                f"{p['predictions']} predictions in {len(p['files'])} file(s); {p['agreed']} ids with every file that predicts them agreeing "
                f"at score >= {p['threshold']} (left out: {p['disagree']} disagreeing, {p['below_threshold']} below the "
                f"threshold, {p['no_label']} with no label, {p['partial']} predicted by fewer than {p['min_views']} files); {p['ids_matched']} of "
                f"them name a row of the build.",
                f"Training rows relabelled (origins {', '.join(p['relabel'])}; languages "
                f"{', '.join(p['langs']) or 'all'}): {p['rows_relabelled']} ("
                + ", ".join(f"{g} {c}" for g, c in p["by_lang"].items()) + f"), label changed: {p['label_changed']}"
                + (" (" + ", ".join(f"{k}: {c}" for k, c in list(p["changes"].items())[:8]) + ")" if p["changes"] else "")
                + f"; kept their label: {p['not_train']} in validation/test, {p['other_origin_or_language']} of "
                "another origin or language."]
    if stats.get("validation_signal"):
        v = stats["validation_signal"]
        out += ["", "## Moved to validation (`split.validation_signal`)", "",
                f"Share {v['share']} of the training groups with a row of languages {', '.join(v['langs']) or 'all'}, "
                f"origins {', '.join(v['origins'])}, label not in [{', '.join(v['exclude_labels'])}]: "
                f"{v['rows_moved']} classification rows moved ({v['matching_rows_moved']} of them matching) with "
                f"{v['summarisation_rows_moved']} summarisation rows of the same articles; test untouched.", "",
                _table(["label", "eligible groups", "moved groups"],
                       [[lab, n, v["moved_groups"][lab]] for lab, n in v["eligible_groups"].items()])]
    if stats.get("reviews"):
        r = stats["reviews"]
        out += ["", "## Reviewed labels (`type: review` sources)", "",
                f"{r['records']} records in {len(r['files'])} file(s) ({r['torn_lines']} torn lines skipped) decide "
                f"{r['rows_decided']} rows; conflicts (records disagreeing on a row, {r['rule']}): {r['conflicts']}.",
                f"Rows relabelled: {r['rows_relabelled']} (label changed: {r['label_changed']}; kept only thanks to the "
                f"review: {r['kept_by_review']}); matched by id + text hash: {r['matched_by_id']}, by text hash only: "
                f"{r['matched_by_text']}; stale (id reviewed, text changed since): {r['stale']}; decisions applied to no "
                f"row (the stale ones included): {r['unmatched']}.", "",
                _table(["split", "reviewed rows"], [[s, c] for s, c in r["by_split"].items()])]
    d = stats["dedup"]
    out += ["", "## Dedup", "",
            f"Exact duplicates dropped: {d['exact_duplicates']}; near-duplicate unions: {d['near_duplicate_unions']}; "
            f"same-body unions: {d['same_body_unions']}; groups with several rows: {d['groups_with_several_rows']} "
            f"({d['rows_in_shared_groups']} rows)."]
    return "\n".join(out) + "\n"


def compute_stats(cfg, n, sources, langs, label_names, cls, summ, split, label, origin, src_code, lang_arr,
                  kind_arr, cfg_source, mapper, capped, weak_stats, dedup_stats, errors) -> dict:
    """The ``stats.json`` dict from the builder's per-row code arrays (see :mod:`mlnews.data.build`)."""
    import numpy as np

    from mlnews.data.scan import NOT_ARTICLE, REASONS, R
    from mlnews.data.config import ORIGINS

    def name_of(arr_reason):
        return REASONS[arr_reason]

    kinds = ("headline", "article")
    cls_rows = Counter()
    keep = np.flatnonzero(cls == R["keep"])
    for s, lab, lg, src, k, o in zip(split[keep], label[keep], lang_arr[keep], src_code[keep], kind_arr[keep],
                                     origin[keep]):
        cls_rows[(SPLITS[s], label_names[lab], langs[lg], sources[src], kinds[k], ORIGINS[o])] += 1
    sum_rows = Counter()
    skeep = np.flatnonzero(summ == R["keep"])
    for s, lg, src in zip(split[skeep], lang_arr[skeep], src_code[skeep]):
        sum_rows[(SPLITS[s], langs[lg], sources[src])] += 1
    dropped_cls = Counter(name_of(r) for r in cls[cls != R["keep"]])
    articles = summ != NOT_ARTICLE
    dropped_sum = Counter(name_of(r) for r in summ[articles & (summ != R["keep"])])
    per_source = {}
    for si, name in enumerate(sources):
        m = src_code == si
        per_source[name] = {
            "rows": int(m.sum()),
            "articles": int((m & (kind_arr == 1)).sum()),
            "classification_kept": int((m & (cls == R["keep"])).sum()),
            "summarisation_kept": int((m & (summ == R["keep"])).sum()),
            "classification_dropped": dict(Counter(name_of(r) for r in cls[m & (cls != R["keep"])])),
            "summarisation_dropped": dict(Counter(name_of(r) for r in summ[m & articles & (summ != R["keep"])])),
        }
    return {
        "name": cfg.name,
        "seed": cfg.seed,
        "labels": label_names,
        "input_rows": int(n),
        "input_articles": int(articles.sum()),
        "classification": {
            "splits": {s: int(((split == i) & (cls == R["keep"])).sum()) for i, s in enumerate(SPLITS)},
            "rows": [dict(zip(("split", "label", "lang", "source", "kind", "label_origin"), k), count=v)
                     for k, v in sorted(cls_rows.items())],
            "dropped": dict(sorted(dropped_cls.items())),
        },
        "summarisation": {
            "splits": {s: int(((split == i) & (summ == R["keep"])).sum()) for i, s in enumerate(SPLITS)},
            "rows": [dict(zip(("split", "lang", "source"), k), count=v) for k, v in sorted(sum_rows.items())],
            "dropped": dict(sorted(dropped_sum.items())),
        },
        "sources": per_source,
        "unmapped_labels": {s: dict(c.most_common()) for s, c in sorted(mapper.unmapped.items())},
        "capped": capped,
        "weak": weak_stats,
        "dedup": dedup_stats,
        "malformed_examples": errors,
    }
