"""``model.kind: static`` (static token embeddings distilled from an encoder + a logistic-regression head).

Tiny random BERTs built on the fly (no downloads): one with a SentencePiece-style Unigram tokenizer (the
vocabulary is pruned to the corpus, as for e5) and one with WordPiece (not prunable: the whole vocabulary
is kept). Covers train -> save -> load -> predict through the real entry points, learning on an easy
synthetic split, no pickles in the folder, texts without a known piece, config checks, and the
one-line refusal of ONNX export.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_runner import main
from mlnews.config import from_dict
from mlnews.errors import ConfigError, MlnewsError
from mlnews.train.classifier import train_from_config
from mlnews.train.config import ClassifierConfig, load_classifier_config
from test_train_tinybert import KEYWORDS, LABELS, build_tiny_bert, build_tiny_dataset, synthetic_rows

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".joblib")


def build_unigram_bert(path: Path, hidden: int = 48) -> Path:
    """A random 2-layer BertModel with an XLM-R-style Unigram tokenizer (``<s> <pad> </s> <unk>`` first),
    trained on the synthetic headlines plus unrelated text (so pruning has something to remove)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    tk = Tokenizer(models.Unigram())
    tk.normalizer = normalizers.NFKC()
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace()])  # e5's
    tk.decoder = decoders.Metaspace()
    corpus = [r["text"] + " " + r["body"] for r in synthetic_rows(300, seed=9)]
    corpus += ["Погода в горах меняется быстро", "Футбольный клуб купил вратаря из Бразилии",
               "Quantum chromodynamics explains hadrons", "Zebra xylophone jukebox"] * 20
    tk.train_from_iterator(corpus, trainers.UnigramTrainer(
        vocab_size=500, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>"))
    tk.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                  unk_token="<unk>", model_max_length=64)
    tok.save_pretrained(path)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=2 * hidden, max_position_embeddings=64, pad_token_id=tok.pad_token_id)
    BertModel(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("static")
    return {"data": build_tiny_dataset(root / "ds"), "unigram": build_unigram_bert(root / "unigram"),
            "wordpiece": build_tiny_bert(root / "wordpiece")}


def make_cfg(tiny: dict[str, Path], encoder: str = "unigram", **static: object) -> ClassifierConfig:
    return from_dict(ClassifierConfig, {
        "data": {"path": str(tiny["data"])},
        "model": {"kind": "static", "name_or_path": str(tiny[encoder]), "max_length": 32},
        "train": {"seed": 7},
        "head": {"C": 10.0},
        "static": {"pca_dims": 32, "distill_batch_size": 64, **static},
    })


@pytest.fixture(scope="module")
def static_dir(tiny, tmp_path_factory) -> Path:
    return train_from_config(make_cfg(tiny), tmp_path_factory.mktemp("run") / "static")


def test_static_folder_has_table_tokenizer_head_and_no_pickle(static_dir: Path):
    names = {p.name for p in static_dir.iterdir()}
    assert {"mlnews.json", "model.safetensors", "tokenizer.json", "head.skops", "train_config.yaml",
            "metrics.json", "README.md"} <= names
    assert not [n for n in names if n.endswith(PICKLE_SUFFIXES)], "no pickled files in a model folder"
    man = json.loads((static_dir / "mlnews.json").read_text(encoding="utf-8"))
    assert man["kind"] == "static" and man["labels"] == LABELS


def test_table_rows_match_the_pruned_tokenizer(static_dir: Path, tiny):
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    table = load_file(str(static_dir / "model.safetensors"))["embeddings"]
    tok = Tokenizer.from_file(str(static_dir / "tokenizer.json"))
    full = Tokenizer.from_file(str(tiny["unigram"] / "tokenizer.json"))
    assert table.shape == (tok.get_vocab_size(), 32) and table.dtype == np.float16
    assert tok.get_vocab_size() < full.get_vocab_size(), "the vocabulary is pruned to the training corpus"
    for special in ("<s>", "<pad>", "</s>", "<unk>"):
        assert not table[tok.token_to_id(special)].any(), f"{special} has a zero row"
    kw = tok.encode("рубль матч", add_special_tokens=False).ids
    assert all(table[i].any() for i in kw)


def test_static_model_learns_keyword_topics(static_dir: Path):
    from mlnews.infer.classifier import Classifier

    metrics = json.loads((static_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["macro_f1"] > 0.6, metrics["macro_f1"]  # chance is 1/3; the keyword carries the topic
    clf = Classifier.load(static_dir)
    assert type(clf.backend).__name__ == "StaticBackend"
    texts = [f"сегодня {KEYWORDS[lab][0]} город" for lab in LABELS]
    assert [p["label"] for p in clf.predict(texts)] == LABELS


def test_unknown_only_and_empty_texts_get_a_defined_prediction(static_dir: Path):
    from mlnews.infer.classifier import Classifier

    clf = Classifier.load(static_dir)
    probs = clf.predict_proba(["漢字漢字", "", "😀 ☃"])
    assert probs.shape == (3, len(LABELS)) and np.isfinite(probs).all()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # an empty text has no piece: the zero vector, so the head's intercepts alone decide (then calibration)
    zero = clf.backend.head.predict_proba(np.zeros((1, clf.backend.embedder.dim), dtype=np.float32))
    assert np.allclose(clf.backend.predict_proba([""]), zero)
    assert clf.predict([]) == [] and clf.predict_proba([]).shape == (0, len(LABELS))


def test_backend_head_matrix_equals_the_skops_estimator(static_dir: Path):
    """The backend's numpy head (model.safetensors) gives the probabilities of the scikit-learn head.skops."""
    from mlnews.infer.classifier import Classifier, load_skops

    clf = Classifier.load(static_dir)
    texts = [clf.compose(r["text"]) for r in synthetic_rows(20, seed=3)]
    emb = clf.backend.embed(texts)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    estimator = load_skops(static_dir / "head.skops")
    cols = [LABELS.index(str(c)) for c in estimator.classes_]
    assert np.allclose(clf.backend.predict_proba(texts)[:, cols], estimator.predict_proba(emb), atol=1e-5)


def test_loading_and_predicting_imports_neither_torch_nor_sklearn(static_dir: Path):
    import subprocess
    import sys

    code = ("import sys; from mlnews.infer.classifier import Classifier; "
            f"c = Classifier.load({str(static_dir)!r}); print(c.predict(['матч гол'])[0]['label']); "
            "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'skops') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] in LABELS and out[1] == "[]", out


def test_a_head_for_other_labels_is_refused(static_dir: Path, tmp_path):
    import shutil

    from mlnews.infer.classifier import Classifier

    copy = shutil.copytree(static_dir, tmp_path / "copy")
    man = json.loads((copy / "mlnews.json").read_text(encoding="utf-8"))
    man["labels"] = list(reversed(man["labels"]))
    (copy / "mlnews.json").write_text(json.dumps(man), encoding="utf-8")
    with pytest.raises(MlnewsError, match=r"head's labels .* differ from mlnews.json"):
        Classifier.load(copy)


def test_wordpiece_encoder_keeps_its_whole_vocabulary(tiny, tmp_path):
    from mlnews.infer.classifier import Classifier
    from tokenizers import Tokenizer

    out = train_from_config(make_cfg(tiny, "wordpiece", weighting="zipf", dtype="float32", pca_dims=None),
                            tmp_path / "wp")
    full = Tokenizer.from_file(str(tiny["wordpiece"] / "tokenizer.json"))
    assert Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab_size() == full.get_vocab_size()
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["macro_f1"] > 0.6
    clf = Classifier.load(out)
    unknown = ["漢字 😀", "☃☃☃"]  # WordPiece maps each to [UNK]: no known piece at all
    assert clf.backend.embedder.tokenizer.encode(unknown[0], add_special_tokens=False).tokens == ["[UNK]", "[UNK]"]
    assert not clf.backend.embed(unknown).any()
    probs = clf.predict_proba(unknown + [""])
    assert np.isfinite(probs).all() and np.allclose(probs, probs[-1])


def test_train_through_the_cli_with_a_config_file(tiny, tmp_path, capsys):
    cfg = tmp_path / "static.yaml"
    cfg.write_text(f"""
task: classification
data: {{path: "{tiny['data']}"}}
model: {{kind: static, name_or_path: "{tiny['unigram']}", max_length: 32}}
head: {{C: 10.0}}
static: {{pca_dims: 16, weighting: sif, vocabulary: dataset}}
""", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["train", str(cfg), "--out", str(tmp_path / "m"), "static.sif_coefficient=0.01"])
    assert exc.value.code in (0, None), capsys.readouterr().err
    saved = load_classifier_config(tmp_path / "m" / "train_config.yaml")
    assert saved.static.sif_coefficient == 0.01 and saved.static.vocabulary == "dataset"
    capsys.readouterr()
    inputs = tmp_path / "h.txt"
    inputs.write_text("Курс рубль банк вырос\nМатч футбол гол\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["classify", "-m", str(tmp_path / "m"), str(inputs)])
    assert exc.value.code in (0, None)
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and all(r["label"] in LABELS for r in rows)


@pytest.mark.parametrize("override, message", [
    ("static.pca_dims=1", r"static\.pca_dims: expected >= 2"),
    ("static.weighting=idf", r"static\.weighting"),
    ("static.sif_coefficient=0", r"static\.sif_coefficient: expected > 0"),
    ("static.dtype=int8", r"static\.dtype"),
])
def test_static_config_errors_name_the_key(tmp_path, override, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task: classification\nmodel: {kind: static}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_classifier_config(cfg, [override])


def test_static_section_on_another_kind_is_an_error(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task: classification\nmodel: {kind: tfidf}\nstatic: {pca_dims: 64}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"static"):
        load_classifier_config(cfg)


def test_onnx_export_refuses_a_static_folder_in_one_line(static_dir: Path, tmp_path, capsys):
    from mlnews.infer.onnx import export_onnx

    with pytest.raises(MlnewsError, match=r"static") as exc:
        export_onnx(static_dir, tmp_path / "onnx")
    assert "\n" not in str(exc.value)
    with pytest.raises(SystemExit) as code:
        main(["export", str(static_dir), "--onnx", "--out", str(tmp_path / "cli")])
    assert code.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "static" in err and "Traceback" not in err


def test_card_snippet_runs_without_mlnews_and_matches_the_classifier(static_dir: Path, monkeypatch, capsys):
    """The card's "Without mlnews" code (tokenizers + numpy + safetensors + skops) gives the same labels."""
    import re

    from mlnews.infer.classifier import Classifier

    card = (static_dir / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", card.split("Without mlnews", 1)[1], re.S).group(1)
    assert "torch" not in code and "transformers" not in code
    monkeypatch.chdir(static_dir.parent)
    ns: dict = {"__name__": "__card__"}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - the card's own snippet, as written
    clf = Classifier.load(static_dir)
    expected = [p["label"] for p in clf.predict([e[0] for e in ns["examples"]], leads=[e[1] for e in ns["examples"]],
                                                bodies=[e[2] for e in ns["examples"]])]
    assert ns["labels"] == expected


TRICKY = ["", " ", "\n\n", "a\u00a0b", "x\u200by", "tab\tsep", "\x1cfs\x1f", "<s> рубль </s>", "матч<unk>гол",
          "ﬁ café", "漢字 😀", "  lead  trail  ", "ЗАГЛАВНЫЕ буквы", "line1\nline2\r\nline3", "\u3000ideo\u3000",
          "\u2028sep\u2029", "Сегодня рубль " * 30]


@pytest.mark.parametrize("encoder", ["unigram", "wordpiece"])
def test_piece_encoder_cache_gives_the_tokenizers_ids(tiny, encoder):
    """The whitespace-split word cache is exactly encode_batch(add_special_tokens=False), truncation included."""
    from mlnews.models.static import PieceEncoder, encode_ids, load_tokenizer

    tok = load_tokenizer(tiny[encoder] / "tokenizer.json", max_length=16)
    pieces = PieceEncoder(tok)
    assert pieces.fast
    texts = TRICKY + [r["text"] + "\n" + r["body"] for r in synthetic_rows(50, seed=4)]
    for _ in range(2):  # a cold cache, then a warm one
        flat, indptr = pieces.ids(texts)
        want_flat, want_indptr = encode_ids(tok, texts)
        assert np.array_equal(indptr, want_indptr) and np.array_equal(flat, want_flat)
    last = len(TRICKY) - 1  # "Сегодня рубль " * 30
    assert indptr[last + 1] - indptr[last] == 16, "truncated to max_length pieces"


def test_piece_encoder_falls_back_for_other_pre_tokenizers(tiny, tmp_path):
    """Metaspace alone keeps a newline inside a word: not split on whitespace first, so encode_batch is used."""
    from tokenizers import Tokenizer, pre_tokenizers

    from mlnews.models.static import PieceEncoder, encode_ids

    tok = Tokenizer.from_file(str(tiny["unigram"] / "tokenizer.json"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    pieces = PieceEncoder(tok)
    assert not pieces.fast
    flat, indptr = pieces.ids(TRICKY)
    want = encode_ids(tok, TRICKY)
    assert np.array_equal(flat, want[0]) and np.array_equal(indptr, want[1])


def test_prune_ignores_the_truncation_saved_in_a_fine_tuned_tokenizer(tiny, tmp_path):
    """A classifier folder saved by the Trainer keeps truncation (max_length) in tokenizer.json; pruning
    (which a static model distilled from such a folder runs) must compare whole texts, not cut ones."""
    import shutil

    from mlnews.models.prune import prune_vocab

    src = shutil.copytree(tiny["unigram"], tmp_path / "finetuned")
    spec = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    spec["truncation"] = {"direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 0}
    (src / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    texts = [r["text"] + " " + r["body"] for r in synthetic_rows(30, seed=1)]
    report = prune_vocab(src, texts, tmp_path / "pruned")
    assert report["texts_checked"] == len(texts) + 2  # the texts and the two e5 prefixes, all whole


def test_serve_classifies_with_a_static_folder(static_dir: Path):
    """``mlnews serve`` loads a static folder through Classifier like any other kind."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from mlnews.serve import create_app

    client = TestClient(create_app(static_dir, summariser="lead"))
    r = client.post("/classify", json={"texts": ["сегодня матч гол", "漢字"], "top_k": 2})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert len(preds) == 2 and all(p["label"] in LABELS and len(p["top_k"]) == 2 for p in preds)
    assert preds[0]["label"] == "sports"


@pytest.mark.slow
def test_classify_dist_on_ray_gives_the_local_labels(static_dir: Path, tmp_path, capsys):
    """``mlnews classify-dist`` (Ray actors load the folder through Classifier) = local ``mlnews classify``."""
    pytest.importorskip("ray", reason="ray is an optional extra: pip install 'mlnews[ray]'")
    import ray

    from mlnews.infer.distributed import classify_dist, init_ray
    from mlnews.ingest.inputs import Columns

    rows = [{"title": r["text"], "uid": f"u{i}"} for i, r in enumerate(synthetic_rows(200, seed=8))]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    started = init_ray(num_cpus=2, object_store_mb=256)
    try:
        res = classify_dist([str(src)], str(static_dir), tmp_path / "out", spec=Columns(text="title", id="uid"),
                            workers=2, rows_per_shard=50)
    finally:
        if started:
            ray.shutdown()
    assert (res.rows_in, res.rows_out, res.n_skipped) == (200, 200, 0)
    dist = {}
    for part in sorted((tmp_path / "out").glob("part-*.jsonl")):
        dist.update({r["id"]: r for r in map(json.loads, part.read_text(encoding="utf-8").splitlines())})
    with pytest.raises(SystemExit) as exc:
        main(["classify", "-m", str(static_dir), str(src), "--text-field", "title", "--id-field", "uid",
              "-o", str(tmp_path / "local.jsonl"), "-q"])
    assert exc.value.code == 0, capsys.readouterr().err
    local = {r["id"]: r for r in map(json.loads, (tmp_path / "local.jsonl").read_text(encoding="utf-8").splitlines())}
    assert dist.keys() == local.keys() and all(dist[i]["label"] == local[i]["label"] for i in local)


def test_static_folder_ships_the_training_words_and_they_give_the_tokenizers_ids(static_dir: Path, tiny):
    """The word cache in model.safetensors is filled with the training texts' words; a loaded folder
    tokenises through it (and through the tokenizer for new words) to exactly encode_batch's ids."""
    from safetensors import safe_open

    from mlnews.models.static import WORD_INDPTR, WORD_PIECES, WORDS, StaticEmbedder, encode_ids

    with safe_open(str(static_dir / "model.safetensors"), framework="numpy") as fh:
        assert {WORDS, WORD_INDPTR, WORD_PIECES} <= set(fh.keys())
    embedder = StaticEmbedder.load(static_dir)
    shipped = len(embedder.pieces)
    assert shipped > 50
    texts = [r["text"] for r in synthetic_rows(40, seed=21)]
    flat, indptr = embedder.pieces.ids(texts)
    assert len(embedder.pieces) - shipped < len({w for t in texts for w in t.lower().split()}), \
        "most words of new headlines of the same kind are already cached"
    texts += TRICKY
    flat, indptr = embedder.pieces.ids(texts)
    want_flat, want_indptr = encode_ids(embedder.tokenizer, texts)
    assert np.array_equal(indptr, want_indptr) and np.array_equal(flat, want_flat)


def test_piece_encoder_export_prefill_round_trip_and_reset(tiny, monkeypatch):
    """export -> prefill gives an encoder that needs the tokenizer for no shipped word; past CACHE_WORDS the
    cache goes back to the shipped words (not to empty), and the ids stay exact throughout."""
    import mlnews.models.static as static
    from mlnews.models.static import PieceEncoder, encode_ids, load_tokenizer

    tok = load_tokenizer(tiny["unigram"] / "tokenizer.json", max_length=16)
    first = PieceEncoder(tok)
    seen = [r["text"] for r in synthetic_rows(30, seed=5)]
    first.ids(seen)
    shipped = first.export()
    second = PieceEncoder(tok)
    second.prefill(*shipped)
    calls = []
    monkeypatch.setattr(second, "_add_words", lambda words: calls.append(words))
    assert np.array_equal(second.ids(seen)[0], encode_ids(tok, seen)[0]) and not calls
    monkeypatch.undo()
    monkeypatch.setattr(static, "CACHE_WORDS", len(shipped[0]) + 3)
    others = TRICKY + [r["text"] + " " + r["body"] for r in synthetic_rows(20, seed=6)]
    for batch in (others, others[::-1]):
        flat, indptr = second.ids(batch)
        want = encode_ids(tok, batch)
        assert np.array_equal(flat, want[0]) and np.array_equal(indptr, want[1])
    second.ids(["x"])  # over the cap: back to the shipped words, then the new one
    assert len(second) == len(shipped[0]) + 1


@pytest.mark.parametrize("damage, message", [
    ("pieces", "piece ids outside"), ("indptr", "does not fit"), ("utf8", "is not UTF-8"), ("missing", "incomplete")])
def test_a_damaged_word_cache_is_refused_in_one_line(static_dir: Path, tmp_path, damage, message):
    import shutil

    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    from mlnews.models.static import WORD_INDPTR, WORD_PIECES, WORDS, StaticEmbedder

    folder = shutil.copytree(static_dir, tmp_path / "damaged")
    path = folder / "model.safetensors"
    with safe_open(str(path), framework="numpy") as fh:
        meta = fh.metadata()
    tensors = load_file(str(path))
    if damage == "pieces":
        tensors[WORD_PIECES][0] = 10**6
    elif damage == "indptr":
        tensors[WORD_INDPTR] = tensors[WORD_INDPTR][:-1].copy()
    elif damage == "utf8":
        tensors[WORDS][0] = 0xFF
    else:
        del tensors[WORD_PIECES]
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(MlnewsError, match=message) as err:
        StaticEmbedder.load(folder)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
