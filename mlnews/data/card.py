"""The dataset card (``README.md`` of a built dataset folder), from the config and ``stats.json``.

Every fact comes from this build: split sizes and label provenance from the stats, sources and
the build command from the config, licences from the ``README.md`` next to each source file
(``## <file name>`` section, ``**Licence**:`` line, as ``../shared/data/README.md`` is written;
else the first sentence that mentions a licence in that README or one up to two folders above).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

from mlnews.data.config import SPLITS, DataConfig, PathResolver

#: Root ``dataset_dict.json`` entries: ``datasets.load_from_disk(root)`` gives a DatasetDict
#: with these keys, each the split saved under that sub-folder.
ROOT_SPLITS = [f"{task}/{s}" for task in ("classification", "summarisation") for s in SPLITS]

_LICENCE_LINE = re.compile(r"\*\*Licen[cs]e\*\*:\s*(.+)")


def source_licence(files: list[Path]) -> str:
    """The licence statement for a source's files (one line), or ``not stated``."""
    if not files:
        return "not stated"
    first = files[0]
    folders = []
    for d in list(first.parents)[:3]:
        if (d / ".git").exists() or (d / "pyproject.toml").is_file():
            break  # a project's own README speaks for the project, not for this file
        folders.append(d)
    for readme in [d / "README.md" for d in folders]:
        if not readme.is_file():
            continue
        text = readme.read_text(encoding="utf-8", errors="replace")
        section = re.search(rf"^## {re.escape(first.name)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
        if section:
            m = _LICENCE_LINE.search(section.group(1))
            if m:
                return m.group(1).strip()
        for para in re.split(r"\n\s*\n", text):
            if re.search(r"licen[cs]", para, re.I) and not para.lstrip().startswith("#"):
                sentence = next(s for s in re.split(r"(?<=[.!?])\s+", " ".join(para.split()))
                                if re.search(r"licen[cs]", s, re.I))
                return sentence.replace("**", "")
    return "not stated (no README.md with a licence next to the files)"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def render_dataset_card(cfg: DataConfig, resolver: PathResolver, stats: dict, taxonomy: dict,
                        command: str, version: str) -> str:
    """Markdown with HF-style YAML front matter."""
    cls, summ = stats["classification"], stats["summarisation"]
    n_rows = sum(cls["splits"].values()) + sum(summ["splits"].values())
    size = next(c for lim, c in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                                 (1_000_000, "100K<n<1M"), (float("inf"), "n>1M")) if n_rows < lim)
    out = ["---", f"language: [{', '.join(cfg.langs)}]", "license: other  # per source: see Sources",
           f"pretty_name: mlnews {cfg.name}",
           "task_categories: [text-classification, summarization]", f"size_categories: [{size}]",
           "tags: [news, mlnews]", "---", "",
           f"# mlnews dataset `{cfg.name}`", "",
           f"Russian and Ukrainian news for topic classification and summarisation, built by mlnews {version}:", "",
           "```bash", command, "```", "",
           f"Seed {cfg.seed}; the resolved config is `build_config.yaml`; all counts are in `stats.json` / `stats.md`.",
           "", "## Load", "",
           "```python",
           "from mlnews.data import load_built",
           "ds = load_built(\"DIR\")                         # .classification / .summarisation (DatasetDict), .labels",
           "",
           "import datasets",
           "clf = datasets.load_from_disk(\"DIR/classification\")   # DatasetDict: train / validation / test",
           "summ = datasets.load_from_disk(\"DIR/summarisation\")   # DatasetDict: train / validation / test",
           "everything = datasets.load_from_disk(\"DIR\")   # DatasetDict keyed 'classification/train', ...",
           "clf[\"train\"].features[\"label\"].int2str(0)      # ClassLabel in the model's label order",
           "```", "",
           "Without `datasets`: `mlnews data export DIR --parquet OUT/` writes one Parquet file per task and split.",
           "", "## Splits", ""]
    out.append(_table(["task", *SPLITS, "total"],
                      [[task, *(d["splits"][s] for s in SPLITS), sum(d["splits"].values())]
                       for task, d in (("classification", cls), ("summarisation", summ))]))
    if stats.get("validation_signal"):
        v = stats["validation_signal"]
        out += ["", f"Validation also holds {v['rows_moved']} classification rows moved from train "
                f"(`split.validation_signal`: share {v['share']} of the {', '.join(v['langs']) or 'all'}-language "
                f"groups labelled by {', '.join(v['origins'])} and not {', '.join(v['exclude_labels']) or '-'}), "
                "so that small language/label cells can be measured there; test is untouched."]
    labels = taxonomy["labels"]
    per_label: dict[str, Counter] = defaultdict(Counter)
    origins: dict[tuple[str, str], int] = Counter()
    for r in cls["rows"]:
        per_label[r["label"]][r["split"]] += r["count"]
        origins[(r["source"], r["label_origin"])] += r["count"]
    descriptions = taxonomy.get("descriptions") or {}
    out += ["", "## Labels", "",
            "`label` is a `ClassLabel`; its ids are the taxonomy order, which is the order of the classifiers "
            "mlnews trains on this dataset (their `id2label`).", ""]
    out.append(_table(["id", "label", "description", *SPLITS],
                      [[i, lab, descriptions.get(lab, ""), *(per_label[lab][s] for s in SPLITS)]
                       for i, lab in enumerate(labels)]))
    w = stats["weak"]
    out += ["", "## Label provenance", "",
            "`label_origin` says where each label comes from: `gold` (human annotation of the source), "
            "`source_rubric` (the publisher's rubric or URL section, mapped to the taxonomy by the config's "
            "`label_maps`), `weak` (no usable source label: labelled by "
            f"{' then '.join(w['methods']) or 'no method'} at confidence >= {w['threshold']}; `confidence` "
            f"holds the score), `reviewed` (set by a person in `mlnews review`; the row keeps its split), `pseudo` (a fine-tuned model's confident "
            "prediction, `pseudo:`; training rows only, `confidence` holds the score). Weak labels are never in the test split (`split.test_origins`: "
            f"{', '.join(cfg.split.test_origins)}).", ""]
    out.append(_table(["source", "label_origin", "rows"], [[s, o, c] for (s, o), c in sorted(origins.items())]))
    if stats.get("unmapped_labels"):
        out += ["", "Source labels without a mapping (dropped or sent to the weak labeller, never guessed): "
                + "; ".join(f"{s}: " + ", ".join(f"{k} ({v})" for k, v in d.items())
                            for s, d in stats["unmapped_labels"].items()) + "."]
    out += ["", "## Sources", ""]
    rows = []
    for i, s in enumerate(cfg.sources):
        files = resolver.many(s.path, f"sources[{i}].path")
        if s.type == "review":
            how = "corrections from `mlnews review`: override the labels of the same rows (origin reviewed)"
        elif s.type != "corpus" or not s.use_labels:
            how = "no source labels (weak labeller)"
        else:
            how = (f"label map `{s.label_map}`" if s.label_map else "taxonomy names") + f", origin {s.label_origin}"
        rows.append([s.name, s.type, f"`{s.path}`", how
                     + (f"; split {s.split} only" if s.split else "") + (f"; cap {s.cap}" if s.cap is not None else ""),
                     source_licence(files)])
    out.append(_table(["source", "type", "path (as in the config)", "labels", "licence"], rows))
    out += ["", "Rows per source (the `source` column; dropped rows by reason in `stats.md`):", ""]
    out.append(_table(["source", "rows in", "classification kept", "summarisation kept"],
                      [[k, v["rows"], v["classification_kept"], v["summarisation_kept"]]
                       for k, v in stats["sources"].items()]))
    out += ["", "## Columns", "",
            "- classification: `id`, `text` (headline or title), `lead`, `body`, `label` (ClassLabel), `label_origin`, "
            "`confidence`, `lang`, `source`, `kind` (headline / article), `group` (near-duplicate group; a group is "
            "never in two splits)",
            "- summarisation: `id`, `text` (article body), `title`, `lead` (the summary target where the source has "
            "a real lead, else empty), `lang`, `source`, `group`", ""]
    return "\n".join(out)
