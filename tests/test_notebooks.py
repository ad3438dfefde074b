"""The notebooks in notebooks/ run top to bottom on the bundled sample, and are stored clean.

Execution uses nbclient with the ``python3`` kernel of the environment running pytest, the
parameters CI uses (``MLNEWS_NB_DATA=sample``, a few training steps) and, for the transformer
and seq2seq steps, a tiny random encoder built here (2 layers, a unigram tokenizer trained on the
sample's own text) instead of e5-small, so the three notebooks together stay within a couple of
minutes on 2 CPU cores. Each test also checks what the notebook leaves behind (plots, model
folders, tables), not only that no cell raised.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NAMES = ["01_data", "02_classifier", "03_summaries"]
CELL_TIMEOUT_S = 600
ANSI = re.compile(r"\x1b\[[0-9;]*m")

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def _sample_texts() -> list[str]:
    texts = []
    for name in ("articles.jsonl", "headlines.jsonl"):
        with open(REPO / "data" / "sample" / name, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                texts += [row[k] for k in ("title", "lead", "text") if isinstance(row.get(k), str)]
    return texts


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    """A 2-layer random BERT (hidden 64) with a unigram tokenizer trained on the sample's text."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tiny-encoder")
    tk = Tokenizer(models.Unigram())
    tk.pre_tokenizer = pre_tokenizers.Metaspace()
    tk.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tk.train_from_iterator(_sample_texts(), trainers.UnigramTrainer(vocab_size=2000, special_tokens=specials,
                                                                     unk_token="<unk>"))
    tk.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                  unk_token="<unk>", model_max_length=128)
    tok.save_pretrained(out)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=128, max_position_embeddings=128, pad_token_id=tok.pad_token_id)
    BertModel(cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def nb_env(tmp_path_factory, tiny_encoder) -> dict[str, str]:
    """The environment CI runs the notebooks with (also set for the kernel, which inherits it)."""
    out = tmp_path_factory.mktemp("nb-out")
    return {
        "MLNEWS_NB_DATA": "sample",
        "MLNEWS_NB_OUT": str(out),
        "MLNEWS_CACHE": str(out / "cache"),  # the sample dataset is built here, not in ~/.cache/mlnews
        "MLNEWS_NB_STEPS": "4",
        "MLNEWS_NB_EVAL_MAX": "8",
        "MLNEWS_NB_TRANSFORMER_OVERRIDES": f"model.name_or_path={tiny_encoder} model.max_length=64 model.freeze_layers=0 "
                                           "train.batch_size=16 train.learning_rate=0.001",
        "MLNEWS_NB_SUMMARISER_OVERRIDES": f"model.name_or_path={tiny_encoder} model.max_length=64 "
                                          "model.decoder_layers=1 target.max_length=24 generation.num_beams=1 "
                                          "generation.max_new_tokens=12 generation.min_new_tokens=0 "
                                          "train.batch_size=8 data.eval_max_examples=8",
        "MPLBACKEND": "Agg",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def run_notebook(name: str, env: dict[str, str], monkeypatch) -> "nbformat.NotebookNode":
    """Execute notebooks/NAME.ipynb in a fresh kernel; any cell error fails with the cell's traceback."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError:
        pass  # reported below from the failed cell's outputs, without nbclient's coloured traceback
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if errors:
            printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            pytest.fail(f"notebooks/{name}.ipynb, cell {cell.id}: {errors[0].ename}: {errors[0].evalue}\n"
                        f"--- cell output ---\n{ANSI.sub('', printed)[-4000:]}", pytrace=False)
    return nb


def outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


# ------------------------------------------------------------------------------------- stored clean


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb.metadata, "widget state must not be stored"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for cell in code:
        assert cell.outputs == [], f"cell {cell.id} has stored outputs"
        assert cell.execution_count is None, f"cell {cell.id} has an execution_count"
        assert "widgets" not in cell.metadata and "execution" not in cell.metadata
    params = code[0]
    assert "parameters" in params.metadata.get("tags", []), "the first code cell holds the parameters"
    assert "MLNEWS_NB_DATA" in params.source and "MLNEWS_NB_OUT" in params.source


def test_notebooks_match_their_generator():
    """scripts/make_notebooks.py is the source of truth; the committed .ipynb files are its output."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_notebooks.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_notebooks_use_the_public_api_only():
    """No private helpers (mlnews.x._name) and no copies of library internals."""
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "import mlnews" in source or "from mlnews" in source
        for line in source.splitlines():
            if "mlnews" in line and ("import" in line or "mlnews." in line):
                assert "._" not in line and " _" not in line.split("import")[-1], f"{name}: private name in {line!r}"


# ----------------------------------------------------------------------------------------- executed


def test_01_data_runs_on_the_sample(nb_env, monkeypatch):
    nb = run_notebook("01_data", nb_env, monkeypatch)
    out = Path(nb_env["MLNEWS_NB_OUT"]) / "01_data"
    for plot in ("labels_by_source_and_lang", "label_share_per_source", "text_lengths"):
        assert (out / f"{plot}.png").stat().st_size > 5000, f"{plot}.png is missing or empty"
    text = outputs_text(nb)
    assert "data: sample" in text
    assert "society" in text and "economy" in text  # the label tables were rendered
    seed = Path(os.environ.get("MLNEWS_SHARED", REPO.parent / "shared")) / "seed" / "000_d04839ea0ce42844.txt"
    if seed.is_file():
        assert "sidebar headlines" in text
    else:
        assert "skipping the seed page" in text


def test_03_summaries_runs_on_the_sample(nb_env, monkeypatch):
    run_notebook("03_summaries", nb_env, monkeypatch)
    out = Path(nb_env["MLNEWS_NB_OUT"]) / "03_summaries"
    model = out / "summariser"
    assert json.loads((model / "mlnews.json").read_text())["task"] == "summarisation"
    with open(out / "rouge.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    overall = {r["method"]: r for r in rows if r["lang"] == "all"}
    assert set(overall) == {"lead-1", "textrank-1", "model"}
    assert all(int(r["n"]) > 0 for r in overall.values())
    assert all(0.0 <= float(r[k]) <= 100.0 for r in rows for k in ("rouge1", "rouge2", "rougeL", "chrf"))
    with open(out / "rouge_cyrillic_blind.csv", encoding="utf-8") as fh:
        blind = {r["method"]: r for r in csv.DictReader(fh)}
    for method in ("lead-1", "textrank-1"):
        # Sentences of the article share Cyrillic words with its lead: razdel tokens see them, the
        # [a-z0-9] tokeniser does not (the sample's leads are Cyrillic apart from a few numbers).
        assert float(blind[method]["ROUGE-1 razdel"]) > float(blind[method]["ROUGE-1 [a-z0-9]"])
    assert (out / "rouge.png").stat().st_size > 5000


def test_02_classifier_runs_on_the_sample(nb_env, monkeypatch):
    nb = run_notebook("02_classifier", nb_env, monkeypatch)
    out = Path(nb_env["MLNEWS_NB_OUT"]) / "02_classifier"
    labels = None
    for name in ("tfidf", "transformer"):
        manifest = json.loads((out / name / "mlnews.json").read_text())
        metrics = json.loads((out / name / "metrics.json").read_text())
        assert manifest["task"] == "classification" and manifest["kind"] == name
        assert labels is None or manifest["labels"] == labels
        labels = manifest["labels"]
        assert metrics["n"] > 0 and 0.0 <= metrics["macro_f1"] <= 1.0
    # TF-IDF trains fully even in CI; on the sample it must beat chance (1/7 labels) by a wide margin.
    tfidf = json.loads((out / "tfidf" / "metrics.json").read_text())
    assert tfidf["accuracy"] > 2.0 / len(labels)
    assert (out / "confusion_matrices.png").stat().st_size > 5000
    text = outputs_text(nb)
    assert "tfidf:" in text and "errors of" in text  # the error tables were produced
    seed = Path(os.environ.get("MLNEWS_SHARED", REPO.parent / "shared")) / "seed" / "000_d04839ea0ce42844.txt"
    if seed.is_file():
        with open(out / "seed_sidebar_predictions.csv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) >= 2 and all(r["tfidf"].split()[0] in labels for r in rows)
