"""Generate notebooks/01_data.ipynb, 02_classifier.ipynb and 03_summaries.ipynb from this file.

The notebooks are written WITHOUT outputs, so the Python source below is what reviewers read and
what git diffs show. Edit the cells here, then regenerate:

    python scripts/make_notebooks.py            # rewrite the three notebooks
    python scripts/make_notebooks.py --check    # exit 1 if a committed notebook differs (CI/test)

Cell sources are the ``NB_*`` strings at the end of this file (one per notebook), in the "percent"
format that VS Code, Spyder and jupytext understand: a line ``# %% [markdown]`` starts a markdown
cell (its lines written as ``# text``), ``# %%`` a code cell, ``# %% tags=["parameters"]`` the
parameter cell (papermill's tag).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (mlnews)", "language": "python"}


def parse_cells(text: str, name: str) -> list[tuple[str, list[str], str]]:
    """``(kind, tags, source)`` per cell of a percent-format text; text before the first marker is ignored."""
    cells: list[tuple[str, list[str], list[str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# %%"):
            kind = "markdown" if "[markdown]" in stripped else "code"
            tags = ["parameters"] if kind == "code" and 'tags=["parameters"]' in stripped else []
            cells.append((kind, tags, []))
            continue
        if not cells:
            continue
        kind = cells[-1][0]
        if kind == "markdown":
            # markdown lines are written as comments: "# text" -> "text", "#" -> ""
            if line.startswith("# "):
                line = line[2:]
            elif line.strip() == "#":
                line = ""
        cells[-1][2].append(line)
    out = []
    for kind, tags, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            out.append((kind, tags, "\n".join(lines)))
    if not out:
        raise SystemExit(f"{name}: no cells (expected '# %%' markers)")
    return out


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (no outputs, execution_count null, deterministic cell ids)."""
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
        "mlnews": {"generated_by": "scripts/make_notebooks.py (edit the cells there, not here)"},
    }
    for i, (kind, tags, source) in enumerate(parse_cells(SOURCES[name], name)):
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
        cell.id = f"{name[:2]}-{i:02d}"
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when a notebook is out of date")
    args = ap.parse_args(argv)
    stale = []
    for name in SOURCES:
        path = ROOT / "notebooks" / f"{name}.ipynb"
        text = render(build(name))
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(ROOT)))
            continue
        from mlnews.io import write_text

        write_text(path, text)
        print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"out of date (run python scripts/make_notebooks.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------------------------- cell sources
# Shared by every notebook: find the repository root (configs use paths relative to it) and read
# the parameters common to all three.

SETUP = r'''
# %%
# Run from the repository root (configs use paths relative to it), wherever Jupyter was started.
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

ROOT = Path.cwd().resolve()
while not ((ROOT / "pyproject.toml").is_file() and (ROOT / "mlnews").is_dir()):
    if ROOT.parent == ROOT:
        raise RuntimeError(f"{Path.cwd()}: not inside the mlnews repository; start Jupyter in the repository")
    ROOT = ROOT.parent
os.chdir(ROOT)
SHARED = Path(SHARED)
if DATA not in ("sample", "default"):
    raise ValueError(f"MLNEWS_NB_DATA={DATA!r}: expected sample or default")
if DATA == "default" and not (SHARED / "data").is_dir():
    print(f"note: {SHARED / 'data'} is absent: using the bundled sample instead of the default dataset")
    DATA = "sample"
DATA_CONFIG = f"configs/data/{DATA}.yaml"
SEED_PAGE = SHARED / "seed" / "000_d04839ea0ce42844.txt"
pd.set_option("display.max_colwidth", 140)
pd.set_option("display.width", 200)


def save(fig, name: str) -> None:
    """Write the figure to OUT (so a run leaves its plots behind) and show it."""
    fig.tight_layout()
    fig.savefig(OUT / f"{name}.png", dpi=100)
    plt.show()


print(f"repository: {ROOT}\ndata: {DATA} ({DATA_CONFIG})\noutputs: {ROOT / OUT}")
'''

NB_01 = r'''
# %% [markdown]
# # 01 · The data: what the classifier and the summariser learn from
#
# Builds (or loads from the cache) the bundled **sample** dataset and, when `../shared/data` is there,
# the **default** dataset made of every third-party corpus; then looks at label balance per source
# and language, text lengths, examples per label, how confident the weak labels are, and how a raw
# news page (the seed page) is parsed.
#
# Everything goes through the public API: `mlnews.data.ensure_dataset` / `load_built` and
# `mlnews.ingest.read_page`. See docs/ARCHITECTURE.md for the dataset layout.

# %% tags=["parameters"]
# Parameters: defaults are for a full local run; environment variables override them (CI: the tiny sample).
import os

DATA = os.environ.get("MLNEWS_NB_DATA", "default")  # "sample" (bundled, seconds) or "default" (all of ../shared/data)
OUT = os.environ.get("MLNEWS_NB_OUT", "runs/notebooks") + "/01_data"  # plots are written here
SHARED = os.environ.get("MLNEWS_SHARED", "../shared")  # third-party corpora and the seed page
''' + SETUP + r'''
# %% [markdown]
# ## Build or load the datasets
#
# `ensure_dataset(config)` builds a data config once into `$MLNEWS_CACHE/datasets/<name>-<hash>`
# and reuses it while neither the config nor an input file changes (the same call `mlnews train`
# makes). The builder's own report, `stats.md`, says what was kept and what was dropped and why.

# %%
from mlnews.data import ensure_dataset, label_names, load_built

OUT = Path(OUT)
OUT.mkdir(parents=True, exist_ok=True)
configs = {"sample": "configs/data/sample.yaml"}
if DATA == "default":
    configs["default"] = "configs/data/default.yaml"
built = {}
for name, config in configs.items():
    path = ensure_dataset(config)
    built[name] = load_built(path)
    sizes = {split: len(d) for split, d in built[name].classification.items()}
    print(f"{name}: {path}\n  classification {sizes}")
ds = built[DATA]
display(Markdown(ds.path.joinpath("stats.md").read_text(encoding="utf-8")))

# %%
frames = []
for split, d in ds.classification.items():
    frame = d.to_pandas()
    frame["label"] = label_names(d)  # ClassLabel ids -> names
    frame["split"] = split
    frames.append(frame)
df = pd.concat(frames, ignore_index=True)
LABELS = list(ds.labels.names)
print(f"{len(df)} classification rows; {len(LABELS)} labels: {', '.join(LABELS)}")
df.groupby(["split", "kind", "lang"]).size().unstack(fill_value=0)

# %% [markdown]
# ## Label distribution per source and language
#
# A source that brings only one or two labels (a rubric-labelled feed, say) teaches the model to
# recognise the *source*; the per-source bars show where that risk is.

# %%
fig, axes = plt.subplots(1, 2, figsize=(15, 5), sharey=True)
for ax, column in zip(axes, ["source", "lang"]):
    table = pd.crosstab(df["label"], df[column]).reindex(LABELS, fill_value=0)
    table.plot.barh(stacked=True, ax=ax, width=0.8)
    ax.set_title(f"examples per label, stacked by {column}")
    ax.set_xlabel("examples")
    ax.legend(fontsize=8)
axes[0].invert_yaxis()
save(fig, "labels_by_source_and_lang")
pd.crosstab([df["source"], df["lang"]], df["label"], margins=True).reindex(columns=[*LABELS, "All"], fill_value=0)

# %%
# Share of each label inside each source (rows sum to 1): a source-specific label mix at a glance.
share = pd.crosstab(df["source"], df["label"], normalize="index").reindex(columns=LABELS, fill_value=0)
fig, ax = plt.subplots(figsize=(10, 0.5 * len(share) + 1.5))
image = ax.imshow(share.to_numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
ax.set_xticks(range(len(LABELS)), LABELS, rotation=30, ha="right")
ax.set_yticks(range(len(share)), share.index)
for (i, j), value in np.ndenumerate(share.to_numpy()):
    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="white" if value > 0.5 else "black")
fig.colorbar(image, ax=ax, label="share of the source's rows")
ax.set_title("label mix per source")
save(fig, "label_share_per_source")

# %% [markdown]
# ## Text lengths
#
# Headlines are the classifier's main input; articles add their lead and the start of the body
# (`data.body_chars`). The body length also decides how much of an article a seq2seq summariser
# sees (`model.max_length`).

# %%
df["chars"] = df["text"].str.len()
df["body_chars"] = df["body"].str.len()
fig, axes = plt.subplots(1, 2, figsize=(15, 4))
for lang, part in df[df["kind"] == "headline"].groupby("lang"):
    axes[0].hist(part["chars"], bins=40, alpha=0.6, label=f"{lang} (n={len(part)})")
axes[0].set(title="headline length", xlabel="characters", ylabel="headlines")
axes[0].legend()
articles = df[(df["kind"] == "article") & (df["body_chars"] > 0)]
if len(articles):
    bins = np.logspace(np.log10(max(1, articles["body_chars"].min())), np.log10(articles["body_chars"].max() + 1), 30)
    for lang, part in articles.groupby("lang"):
        axes[1].hist(part["body_chars"], bins=bins, alpha=0.6, label=f"{lang} (n={len(part)})")
    axes[1].set_xscale("log")
    axes[1].legend()
axes[1].set(title="article body length", xlabel="characters (log scale)", ylabel="articles")
save(fig, "text_lengths")
df.groupby(["kind", "lang"])[["chars", "body_chars"]].describe().round(0)

# %% [markdown]
# ## Examples per label
#
# Three random rows per label, with where they came from and how the label was obtained.

# %%
columns = ["label", "text", "lang", "source", "kind", "label_origin", "confidence"]
examples = df.sample(frac=1.0, random_state=13).groupby("label", sort=False).head(3)
examples.assign(order=examples["label"].map(LABELS.index)).sort_values("order")[columns]

# %% [markdown]
# ## Weak labels and their confidence
#
# Rows whose source has no usable topic are labelled by the weak labeller (keyword rules, then a
# TF-IDF model trained on the gold/rubric rows); a row is kept only when its confidence reaches
# the threshold. Weak rows are never used as test data.

# %%
display(pd.crosstab(df["label"], df["label_origin"], margins=True).reindex([*LABELS, "All"], fill_value=0))
weak_stats = ds.stats.get("weak", {})
print("weak labeller:", json.dumps(weak_stats, ensure_ascii=False))
weak = df[df["label_origin"] == "weak"]
if weak.empty:
    print(f"no weak labels in the {DATA} dataset (every row is gold or a source rubric); "
          "run with MLNEWS_NB_DATA=default to see them")
else:
    fig, axes = plt.subplots(1, 2, figsize=(15, 4))
    axes[0].hist(weak["confidence"], bins=20, color="tab:orange")
    if "threshold" in weak_stats:
        axes[0].axvline(weak_stats["threshold"], color="black", linestyle="--", label="threshold")
        axes[0].legend()
    axes[0].set(title=f"weak-label confidence (n={len(weak)})", xlabel="confidence", ylabel="rows")
    present = [label for label in LABELS if label in set(weak["label"])]
    axes[1].hist([weak.loc[weak["label"] == label, "confidence"] for label in present], bins=20, stacked=True,
                 label=present)
    axes[1].set(title="weak-label confidence, stacked by label", xlabel="confidence", ylabel="rows")
    axes[1].legend(fontsize=8)
    save(fig, "weak_label_confidence")
    print("least confident weak labels kept:")
    display(weak.nsmallest(10, "confidence")[columns])

# %% [markdown]
# ## Summarisation split
#
# Articles with a body; `lead` (when the source has a real lead) and `title` are the references
# the summarisers are scored against in notebook 03.

# %%
rows = []
for split, d in ds.summarisation.items():
    frame = d.to_pandas()
    for lang, part in frame.groupby("lang"):
        rows.append({"split": split, "lang": lang, "articles": len(part), "with lead": int((part["lead"] != "").sum()),
                     "median body chars": int(part["text"].str.len().median())})
pd.DataFrame(rows)

# %% [markdown]
# ## A raw news page, parsed
#
# `read_page` turns a page dump (title, lead, paragraphs, a sidebar of timed headlines) into an
# `Article`. Notebook 02 classifies the sidebar headlines of this page.

# %%
from mlnews.ingest import read_page

if not SEED_PAGE.is_file():
    print(f"note: {SEED_PAGE} is absent (../shared is not bundled with the repository): skipping the seed page")
else:
    page = read_page(SEED_PAGE)
    print(f"title: {page.title}\nlead:  {page.lead}\nlang:  {page.lang}")
    print(f"{len(page.paragraphs)} paragraphs, {len(page.headlines)} sidebar headlines; first paragraphs:")
    for paragraph in page.paragraphs[:3]:
        print("  -", paragraph[:200])
    display(pd.DataFrame([{"time": h.time, "lang": h.lang, "headline": h.text} for h in page.headlines]))
'''

RUN_CLI = r'''

def run_cli(*args) -> None:
    """Run `mlnews ARGS` exactly as a user would; print the end of its output; stop here if it fails."""
    print("$ mlnews", " ".join(map(str, args)))
    env = {**os.environ, "TQDM_DISABLE": "1", "NO_COLOR": "1"}  # no progress bars in the notebook
    proc = subprocess.run([sys.executable, "-m", "mlnews", *map(str, args)], capture_output=True, text=True, env=env)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line.rsplit("\r", 1)[-1]) for line in (proc.stdout + proc.stderr).splitlines()]
    print("\n".join(line for line in lines if line.strip() and "it/s]" not in line)[-3000:])
    if proc.returncode != 0:
        raise RuntimeError(f"mlnews {args[0]} exited with {proc.returncode}; see its output above")


def fresh(path: Path) -> Path:
    """This notebook's own output folder from an earlier run is replaced (mlnews train wants a new folder)."""
    if path.exists():
        shutil.rmtree(path)
    return path
'''

NB_02 = r'''
# %% [markdown]
# # 02 · Topic classifier: train, inspect the errors, classify a real page
#
# Trains the fast TF-IDF config and then the small transformer config with `mlnews train`, both
# on the same dataset; compares them (confusion matrices, per-class and per-language tables),
# lists the test headlines each gets wrong with the highest confidence, and classifies the sidebar
# headlines of the seed page with `mlnews.Classifier`.

# %% tags=["parameters"]
# Parameters: defaults are for a full local run; environment variables override them (CI: the tiny sample).
import os

DATA = os.environ.get("MLNEWS_NB_DATA", "default")  # "sample" (bundled) or "default" (all of ../shared/data)
OUT = os.environ.get("MLNEWS_NB_OUT", "runs/notebooks") + "/02_classifier"  # model folders and plots
SHARED = os.environ.get("MLNEWS_SHARED", "../shared")  # the seed page
FAST_CONFIG = os.environ.get("MLNEWS_NB_FAST_CONFIG", "configs/classifier/tfidf.yaml")
TRANSFORMER_CONFIG = os.environ.get("MLNEWS_NB_TRANSFORMER_CONFIG", "configs/classifier/e5-small.yaml")
STEPS = os.environ.get("MLNEWS_NB_STEPS", "")  # "" = the config's epochs; N = train.max_steps=N
EXTRA_OVERRIDES = os.environ.get("MLNEWS_NB_TRANSFORMER_OVERRIDES", "")  # more key=value overrides, space-separated
N_ERRORS = int(os.environ.get("MLNEWS_NB_ERRORS", "12"))  # most confident errors listed per model
''' + SETUP + r'''
# %%
import re
import shlex
import shutil
import subprocess
import sys

from mlnews import Classifier
from mlnews.data import ensure_dataset, label_names, load_built
''' + RUN_CLI + r'''

OUT = Path(OUT)
OUT.mkdir(parents=True, exist_ok=True)
dataset = ensure_dataset(DATA_CONFIG)
built = load_built(dataset)
LABELS = list(built.labels.names)
test = built.classification["test"].to_pandas()
test["label"] = label_names(built.classification["test"])  # ClassLabel ids -> names
print(f"{dataset}\ntest split: {len(test)} rows {test['lang'].value_counts().to_dict()}; labels: {', '.join(LABELS)}")

# %% [markdown]
# ## Train
#
# Both models read the dataset folder built above (`data.path=...` overrides the config's data
# config, which would resolve to the same cached folder). Each run writes a self-describing model
# folder: weights, `mlnews.json`, `metrics.json` on the test split, `confusion_matrix.csv/png`,
# the resolved config and a model card.

# %%
models = {}
models["tfidf"] = fresh(OUT / "tfidf")
run_cli("train", FAST_CONFIG, "--out", models["tfidf"], f"data.path={dataset}")

# %%
# The transformer: e5-small by default. MLNEWS_NB_STEPS caps the optimiser steps (CI: a few) and
# MLNEWS_NB_TRANSFORMER_OVERRIDES can swap the model (CI: a tiny random encoder) or any other key.
overrides = [f"data.path={dataset}"]
if STEPS:
    overrides.append(f"train.max_steps={int(STEPS)}")
overrides += shlex.split(EXTRA_OVERRIDES)
models["transformer"] = fresh(OUT / "transformer")
run_cli("train", TRANSFORMER_CONFIG, "--out", models["transformer"], *overrides)

# %% [markdown]
# ## Scores on the test split
#
# From each model's `metrics.json` (the trainer scored the same test rows).

# %%
metrics = {name: json.loads((path / "metrics.json").read_text(encoding="utf-8")) for name, path in models.items()}
pd.DataFrame({name: {"test rows": m["n"], "accuracy": m["accuracy"], "macro F1": m["macro_f1"],
                     "validation macro F1": (m.get("validation") or {}).get("macro_f1"),
                     "train seconds": m.get("train_seconds")} for name, m in metrics.items()})

# %%
# Confusion matrices, row-normalised (each true label's row sums to 1), counts in the cells.
fig, axes = plt.subplots(1, len(models), figsize=(7 * len(models), 6))
for ax, (name, path) in zip(np.atleast_1d(axes), models.items()):
    cm = pd.read_csv(path / "confusion_matrix.csv", index_col=0).reindex(index=LABELS, columns=LABELS, fill_value=0)
    norm = cm.div(cm.sum(axis=1).replace(0, 1), axis=0)
    ax.imshow(norm.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=45, ha="right")
    ax.set_yticks(range(len(LABELS)), LABELS)
    for (i, j), count in np.ndenumerate(cm.to_numpy()):
        if count:
            ax.text(j, i, count, ha="center", va="center", fontsize=8, color="white" if norm.iat[i, j] > 0.5 else "black")
    ax.set(title=f"{name}: macro F1 {metrics[name]['macro_f1']:.3f}", xlabel="predicted", ylabel="true")
save(fig, "confusion_matrices")

# %%
# Per class: precision / recall / F1 of both models, with the test support.
per_class = pd.concat(
    {name: pd.DataFrame(m["per_class"]).T[["precision", "recall", "f1"]] for name, m in metrics.items()}, axis=1
)
per_class[("", "support")] = pd.DataFrame(next(iter(metrics.values()))["per_class"]).T["support"].astype(int)
per_class.reindex(LABELS).round(3)

# %%
# Per language and per source: where a model is weaker.
rows = []
for name, m in metrics.items():
    for group in ("per_lang", "per_source"):
        for key, s in m.get(group, {}).items():
            rows.append({"model": name, "group": group.removeprefix("per_"), "value": key, **s})
pd.DataFrame(rows).pivot_table(index=["group", "value", "n"], columns="model", values=["accuracy", "macro_f1"]).round(3)

# %% [markdown]
# ## The most confident errors
#
# `Classifier.load(folder)` serves any model folder; `predict_proba` composes each input exactly
# as at training time (title, plus lead and the start of the body for articles). Confident errors
# are where labels are noisy (a rubric that does not match the topic) or where a model learned a
# shortcut; they are the first rows to read before trusting a model.

# %%
classifiers = {name: Classifier.load(path) for name, path in models.items()}
for name, clf in classifiers.items():
    probs = clf.predict_proba(list(test["text"]), leads=list(test["lead"]), bodies=list(test["body"]))
    predicted = np.array(clf.labels.names)[probs.argmax(axis=1)]
    frame = test.assign(predicted=predicted, confidence=probs.max(axis=1))
    errors = frame[frame["predicted"] != frame["label"]]
    share = len(errors) / max(1, len(frame))
    # Same test rows and predictions as metrics.json (a check that serving matches evaluation).
    print(f"{name}: {len(errors)} errors of {len(frame)} test rows ({share:.1%}; metrics.json accuracy "
          f"{metrics[name]['accuracy']:.3f})")
    display(errors.nlargest(N_ERRORS, "confidence")[
        ["text", "lang", "source", "kind", "label", "predicted", "confidence", "label_origin"]].round(3))

# %% [markdown]
# ## Classify a real page: the seed page's sidebar headlines
#
# `read_page` extracts the sidebar; `Classifier.predict(texts, top_k=2)` returns label names and
# scores. The page is third-party data from `../shared`; it is skipped when that folder is absent.

# %%
from mlnews.ingest import read_page

if not SEED_PAGE.is_file():
    print(f"note: {SEED_PAGE} is absent (../shared is not bundled with the repository): skipping the seed page")
else:
    page = read_page(SEED_PAGE)
    headlines = [h.text for h in page.headlines] + [page.title]
    table = pd.DataFrame({"headline": headlines, "where": ["sidebar"] * len(page.headlines) + ["page title"]})
    for name, clf in classifiers.items():
        top = clf.predict(headlines, top_k=2)
        table[name] = [", ".join(f"{t['label']} {t['score']:.2f}" for t in p["top_k"]) for p in top]
    table.to_csv(OUT / "seed_sidebar_predictions.csv", index=False)
    display(table)
'''

NB_03 = r'''
# %% [markdown]
# # 03 · Summaries: Lead-1, TextRank and a trained model side by side
#
# Runs the two extractive baselines and a seq2seq model (trained here with `mlnews train`, or
# loaded from `MLNEWS_NB_SUMMARISER`) on the same test articles, scores them with ROUGE on razdel
# tokens, and shows what a Cyrillic-blind ROUGE (the `[a-z0-9]`-only tokeniser that `rouge_score`
# uses by default) would have reported instead.

# %% tags=["parameters"]
# Parameters: defaults are for a full local run; environment variables override them (CI: the tiny sample).
import os

DATA = os.environ.get("MLNEWS_NB_DATA", "default")  # "sample" (bundled) or "default" (all of ../shared/data)
OUT = os.environ.get("MLNEWS_NB_OUT", "runs/notebooks") + "/03_summaries"  # the trained model and tables
SHARED = os.environ.get("MLNEWS_SHARED", "../shared")
SUMMARISER = os.environ.get("MLNEWS_NB_SUMMARISER", "")  # a trained model folder to load; "" = train one here
SUMMARISER_CONFIG = os.environ.get("MLNEWS_NB_SUMMARISER_CONFIG", "configs/summariser/e5_lead.yaml")
STEPS = os.environ.get("MLNEWS_NB_STEPS", "")  # "" = the config's epochs; N = train.max_steps=N
EXTRA_OVERRIDES = os.environ.get("MLNEWS_NB_SUMMARISER_OVERRIDES", "")  # more key=value overrides, space-separated
N_SHOW = int(os.environ.get("MLNEWS_NB_ARTICLES", "4"))  # articles shown side by side
EVAL_MAX = int(os.environ.get("MLNEWS_NB_EVAL_MAX", "100"))  # test articles scored with ROUGE
''' + SETUP + r'''
# %%
import re
import shlex
import shutil
import subprocess
import sys

from mlnews import Summariser
from mlnews.data import ensure_dataset, load_built
from mlnews.evaluate.rouge import corpus_scores, latin_only_tokenize, tokenize
''' + RUN_CLI + r'''

OUT = Path(OUT)
OUT.mkdir(parents=True, exist_ok=True)
dataset = ensure_dataset(DATA_CONFIG)
test = load_built(dataset).summarisation["test"].to_pandas()
print(f"{dataset}: {len(test)} test articles {test['lang'].value_counts().to_dict()}")

# %% [markdown]
# ## The trained summariser
#
# `mlnews train CONFIG --out DIR data.path=DATASET [key=value ...]` fine-tunes the seq2seq model
# of the config (by default an e5-small encoder warm-starting an encoder-decoder, vocabulary cut
# to the corpus) and writes a model folder with `metrics.json` on the test split. With a handful
# of steps (`MLNEWS_NB_STEPS`, as in CI) the model is barely trained and its summaries are noise,
# but every step of the pipeline runs.

# %%
if SUMMARISER:
    model_dir = Path(SUMMARISER)
    print(f"loading the trained summariser {model_dir} (MLNEWS_NB_SUMMARISER)")
else:
    model_dir = fresh(OUT / "summariser")
    overrides = [f"data.path={dataset}"]
    if STEPS:
        overrides.append(f"train.max_steps={int(STEPS)}")
    overrides += shlex.split(EXTRA_OVERRIDES)
    run_cli("train", SUMMARISER_CONFIG, "--out", model_dir, *overrides)
manifest = json.loads((model_dir / "mlnews.json").read_text(encoding="utf-8"))
TARGET = manifest.get("target", "lead")
own = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
print(f"model: {model_dir} (base {manifest.get('base_model')}; writes the article's {TARGET})")
print("its own test metrics:", {k: own.get(k) for k in ("n", "rouge1", "rouge2", "rougeL", "chrf")})

# %% [markdown]
# ## Side by side
#
# The reference is what the model was trained to write (the article's `lead` or `title`). Lead-1
# copies the first sentence; TextRank-1 picks the most central one.

# %%
summarisers = {
    "lead-1": Summariser.load("lead-1"),
    "textrank-1": Summariser.load("textrank-1"),
    "model": Summariser.load(model_dir),
}
with_ref = test[test[TARGET].str.strip() != ""]
scored = with_ref.sample(n=EVAL_MAX, random_state=13) if len(with_ref) > EVAL_MAX else with_ref
print(f"scoring {len(scored)} of {len(test)} test articles: {len(test) - len(with_ref)} have no {TARGET!r} "
      f"reference, {len(with_ref) - len(scored)} are over MLNEWS_NB_EVAL_MAX={EVAL_MAX}")
predictions = {name: [s.text for s in summariser.summarise_many(list(scored["text"]))]
               for name, summariser in summarisers.items()}
side = scored[["lang", "title", TARGET]].rename(columns={TARGET: f"reference ({TARGET})"}).reset_index(drop=True)
for name, texts in predictions.items():
    side[name] = texts
side.to_csv(OUT / "side_by_side.csv", index=False)
with pd.option_context("display.max_colwidth", 400):
    display(side.head(N_SHOW).T)

# %% [markdown]
# ## ROUGE
#
# `mlnews.evaluate.rouge`: ROUGE-1/2/L F1 over lowercased razdel tokens (`ё` folded to `е`,
# punctuation dropped, no stemming) and character chrF, in percent; overall and per language.

# %%
refs, langs = list(scored[TARGET]), list(scored["lang"])
rows = []
for name, preds in predictions.items():
    scores = corpus_scores(preds, refs, langs)
    for lang, s in [("all", scores), *sorted(scores["per_lang"].items())]:
        rows.append({"method": name, "lang": lang, **{k: s[k] for k in ("n", "rouge1", "rouge2", "rougeL", "chrf")}})
rouge = pd.DataFrame(rows)
rouge.to_csv(OUT / "rouge.csv", index=False)
rouge

# %%
overall = rouge[rouge["lang"] == "all"].set_index("method")[["rouge1", "rouge2", "rougeL", "chrf"]]
fig, ax = plt.subplots(figsize=(9, 3.5))
overall.plot.bar(ax=ax, rot=0)
ax.set(title=f"summaries vs the {TARGET} ({len(scored)} test articles)", ylabel="F1 / chrF, %")
save(fig, "rouge")

# %% [markdown]
# ## What a Cyrillic-blind ROUGE would have reported
#
# `rouge_score`'s default tokeniser lowercases and keeps only `[a-z0-9]` runs, so a Russian or
# Ukrainian sentence is reduced to its numbers and Latin names. The same predictions and
# references, scored with that tokeniser:

# %%
print("reference:       ", refs[0])
print("razdel tokens:   ", tokenize(refs[0]))
print("[a-z0-9] tokens: ", latin_only_tokenize(refs[0]))
rows = []
for name, preds in predictions.items():
    ours = corpus_scores(preds, refs, tokenizer=tokenize)
    blind = corpus_scores(preds, refs, tokenizer=latin_only_tokenize)
    empty = sum(1 for p, r in zip(preds, refs) if not latin_only_tokenize(p) or not latin_only_tokenize(r))
    rows.append({"method": name, "ROUGE-1 razdel": ours["rouge1"], "ROUGE-1 [a-z0-9]": blind["rouge1"],
                 "ROUGE-L razdel": ours["rougeL"], "ROUGE-L [a-z0-9]": blind["rougeL"],
                 "pairs with no [a-z0-9] token on a side": f"{empty}/{len(refs)}"})
cyrillic_blind = pd.DataFrame(rows).set_index("method")
cyrillic_blind.to_csv(OUT / "rouge_cyrillic_blind.csv")
cyrillic_blind

# %% [markdown]
# With the `[a-z0-9]` tokeniser most pairs have nothing left on one side and score 0, and the rest
# are compared on numbers and Latin names only, so its scores (and its ranking of the methods)
# say nothing about the Russian and Ukrainian words. This is why every score in mlnews is computed
# on razdel tokens (`mlnews evaluate`, `metrics.json`).
'''

SOURCES = {"01_data": NB_01, "02_classifier": NB_02, "03_summaries": NB_03}


if __name__ == "__main__":
    sys.exit(main())
