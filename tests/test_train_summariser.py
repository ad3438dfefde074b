"""Seq2seq summariser training on tiny random models built in the test (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlnews.errors import ConfigError, InputError

CITIES = ["Москве", "Киеве", "Казани", "Львове", "Одессе", "Самаре", "Харькове", "Томске", "Днепре", "Перми"]
EVENTS = ["открыли новый мост", "прошёл фестиваль", "выпал снег", "закрыли школу", "начался матч"]


def _examples() -> list[dict]:
    rows = []
    for i in range(20):
        city, event = CITIES[i % 10], EVENTS[i % 5]
        title = f"В {city} {event}"
        text = (f"В {city} {event} в понедельник. Об этом сообщили местные власти. "
                f"Жители {city} обсуждают новость. Подробности пока неизвестны.")
        rows.append({"id": f"x{i}", "text": text, "title": title, "lead": f"{title} в понедельник.",
                     "lang": "ru" if i % 2 else "uk"})
    return rows


def _tiny_unigram_tokenizer(texts: list[str], out: Path):
    import math

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    # The vocabulary is built here, not by UnigramTrainer, whose result differs per process (two processes,
    # two vocabularies): "<s> <pad> </s> <unk>", "▁" and every character, then the corpus words ("▁word",
    # the most frequent first) up to 400 pieces; a piece's score is its log relative frequency, so a known
    # word is one piece and anything else falls back to characters.
    pre = pre_tokenizers.Metaspace()
    counts: dict[str, int] = {}
    for text in texts:
        for word, _ in pre.pre_tokenize_str(text):
            counts[word] = counts.get(word, 0) + 1
    chars: dict[str, int] = {}
    for word, n in counts.items():
        for c in word:
            chars[c] = chars.get(c, 0) + n
    total = sum(counts.values()) + sum(chars.values())
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(c, math.log(chars[c] / total) - 10.0) for c in sorted(chars)]  # characters: the fallback
    words = [w for w in sorted(counts, key=lambda w: (-counts[w], w)) if len(w) > 1 and w not in chars]
    vocab += [(w, math.log(counts[w] / total)) for w in words[: max(0, 400 - len(vocab))]]
    tk = Tokenizer(models.Unigram(vocab, unk_id=3))
    tk.pre_tokenizer = pre
    tk.decoder = decoders.Metaspace()
    tk.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                  unk_token="<unk>")
    tok.save_pretrained(out)
    return tok


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    """A 2-layer random BERT with a unigram tokenizer trained on the examples (plus unrelated text)."""
    from transformers import BertConfig, BertModel

    out = tmp_path_factory.mktemp("tiny-encoder")
    rows = _examples()
    extra = ["Погода в горах меняется быстро.", "Футбольный клуб купил вратаря из Бразилии."] * 5
    tok = _tiny_unigram_tokenizer([r["text"] for r in rows] + extra, out)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=128, max_position_embeddings=128, pad_token_id=tok.pad_token_id)
    BertModel(cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sumdata") / "articles.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for r in _examples():
            for split in ("train", "validation", "test"):  # overfitting test: the same 20 everywhere
                fh.write(json.dumps({**r, "split": split}, ensure_ascii=False) + "\n")
    return path


def _config(tmp_path: Path, encoder: Path, data: Path, **extra: str) -> Path:
    cfg = f"""
task: summarisation
data: {{path: "{data}", eval_max_examples: 20}}
model: {{name_or_path: "{encoder}", max_length: 48, vocab: corpus, decoder_layers: 1}}
target: {{field: title, max_length: 16}}
generation: {{num_beams: 1, no_repeat_ngram_size: 0, max_new_tokens: 12}}
train: {{max_steps: 60, learning_rate: 3.0e-3, batch_size: 10, warmup_ratio: 0.0, logging_steps: 20,
        eval_strategy: steps, eval_steps: 30, save_total_limit: 1, seed: 1, num_threads: 2}}
"""
    path = tmp_path / "tiny.yaml"
    path.write_text(cfg, encoding="utf-8")
    return path


def test_every_shipped_config_loads(repo):
    from mlnews.train.config import load_summariser_config

    configs = sorted((repo / "configs" / "summariser").glob("*.yaml"))
    assert configs, "configs/summariser has no configs"
    for path in configs:
        cfg = load_summariser_config(path)
        assert cfg.task == "summarisation"
        assert cfg.target.field in ("lead", "title")


def test_config_errors_name_the_key(tmp_path, tiny_encoder, data_file):
    from mlnews.train.config import load_summariser_config

    path = _config(tmp_path, tiny_encoder, data_file)
    with pytest.raises(ConfigError, match=r"target\.field"):
        load_summariser_config(path, ["target.field=body"])
    with pytest.raises(ConfigError, match=r"generation\.num_beams"):
        load_summariser_config(path, ["generation.num_beams=0"])
    with pytest.raises(ConfigError, match=r"generation\.beams"):
        load_summariser_config(path, ["generation.beams=2"])
    with pytest.raises(ConfigError, match=r"train\.class_weights"):
        load_summariser_config(path, ["train.class_weights=balanced"])


def test_jsonl_rows_errors_name_the_line(tmp_path):
    from mlnews.data.articles import article_rows as load_rows

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Один."}\n{"title": "нет текста"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:2: .*'text'"):
        load_rows(bad, "test")


def test_prune_vocab_refuses_a_folder_with_another_vocabulary_sized_tensor(tmp_path, tiny_encoder):
    import shutil

    from transformers import AutoConfig, BertForMaskedLM

    from mlnews.errors import MlnewsError
    from mlnews.models.prune import prune_vocab

    mlm = tmp_path / "mlm"
    shutil.copytree(tiny_encoder, mlm)
    BertForMaskedLM(AutoConfig.from_pretrained(tiny_encoder)).save_pretrained(mlm)  # adds cls.predictions.bias
    with pytest.raises(MlnewsError, match=r"one word-embedding matrix and no other vocabulary-sized tensor"):
        prune_vocab(mlm, ["Футбольный клуб купил вратаря."], tmp_path / "pruned")


def test_prune_vocab_keeps_tokenisation(tmp_path, tiny_encoder):
    from transformers import AutoModel, AutoTokenizer

    from mlnews.models.prune import prune_vocab

    texts = [r["text"] for r in _examples()]
    report = prune_vocab(tiny_encoder, texts, tmp_path / "pruned")  # verifies tokens and hidden states itself
    n = report["pieces_after"]
    assert report["sample_max_abs_diff"] <= 1e-5
    full = AutoTokenizer.from_pretrained(tiny_encoder)
    small = AutoTokenizer.from_pretrained(tmp_path / "pruned")
    assert n == len(small) < len(full)
    for t in texts[:5]:
        assert small.tokenize(t) == full.tokenize(t)
    model = AutoModel.from_pretrained(tmp_path / "pruned")
    assert model.get_input_embeddings().weight.shape[0] == n


def test_tiny_model_overfits_and_folder_reloads(tmp_path, tiny_encoder, data_file):
    """Trains 60 steps on 20 examples: ROUGE on them must rise well above the untrained model's."""
    from transformers import AutoModelForSeq2SeqLM

    from mlnews.infer.summariser import Summariser
    from mlnews.evaluate.summariser import evaluate_summariser as evaluate
    from mlnews.train.summariser import train

    cfg = _config(tmp_path, tiny_encoder, data_file)
    # Untrained baseline: the same model after 1 step at a negligible learning rate.
    base = train(cfg, tmp_path / "untrained", ["train.max_steps=1", "train.learning_rate=1.0e-9"], False)
    out = train(cfg, tmp_path / "model", [], False)

    before = json.loads((base / "metrics.json").read_text(encoding="utf-8"))
    after = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert after["n"] == 20 and after["target"] == "title"
    assert after["rougeL"] >= before["rougeL"] + 20, (before["rougeL"], after["rougeL"])
    assert after["rouge1"] >= 25

    for name in ("mlnews.json", "model.safetensors", "generation_config.json", "train_config.yaml",
                 "metrics.json", "README.md", "tokenizer.json"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()
    assert not list(out.glob("*.bin")) and not list(out.glob("*.pt"))  # no pickles in a model folder
    manifest = json.loads((out / "mlnews.json").read_text(encoding="utf-8"))
    assert manifest["task"] == "summarisation" and manifest["kind"] == "seq2seq"
    gen = json.loads((out / "generation_config.json").read_text(encoding="utf-8"))
    assert gen["max_new_tokens"] == 12 and gen["decoder_start_token_id"] is not None
    assert "ROUGE-1" in (out / "README.md").read_text(encoding="utf-8")

    assert AutoModelForSeq2SeqLM.from_pretrained(out) is not None
    summary = Summariser.load(str(out)).summarise(_examples()[0]["text"], max_words=5)
    assert summary.text and len(summary.text.split()) <= 5
    assert summary.method.startswith("seq2seq:")

    # Long articles: chunking from the manifest summarises several windows and says so.
    original = (out / "mlnews.json").read_text(encoding="utf-8")
    manifest["input"].update(chunking="chunks", max_length=16, max_chunks=2)
    (out / "mlnews.json").write_text(json.dumps(manifest), encoding="utf-8")
    long_text = " ".join(r["text"] for r in _examples()[:3])
    chunked = Summariser.load(str(out)).summarise(long_text)
    assert chunked.text and any("2 chunks" in n for n in chunked.notes)
    (out / "mlnews.json").write_text(original, encoding="utf-8")

    again = evaluate(str(out), str(data_file), "test", tmp_path / "eval")
    assert again["rougeL"] == pytest.approx(after["rougeL"])
    assert (tmp_path / "eval" / "predictions.jsonl").is_file()


def test_resume_continues_from_checkpoint(tmp_path, tiny_encoder, data_file):
    """Resuming restores the checkpoint's weights: a different seed cannot change them."""
    from safetensors.torch import load_file

    from mlnews.train.summariser import train

    cfg = _config(tmp_path, tiny_encoder, data_file)
    short = ["train.max_steps=10", "train.eval_steps=10", "train.keep_checkpoints=true", "data.eval_max_examples=2"]
    with pytest.raises(ConfigError, match="no checkpoint"):
        train(cfg, tmp_path / "m", short, True)
    first = train(cfg, tmp_path / "m", short, False)
    weights = load_file(str(first / "model.safetensors"))
    assert (first / "checkpoints" / "checkpoint-10").is_dir()

    out = train(cfg, tmp_path / "m", short + ["train.seed=2"], True)  # nothing left to train
    hist = json.loads((out / "train_history.json").read_text(encoding="utf-8"))
    assert hist["global_step"] == 10 and hist["resumed_from"] == "checkpoint-10"
    resumed = load_file(str(out / "model.safetensors"))
    assert resumed.keys() == weights.keys()
    assert all((resumed[k] == weights[k]).all() for k in weights)

    fresh = train(cfg, tmp_path / "fresh", short + ["train.seed=2"], False)
    other = load_file(str(fresh / "model.safetensors"))
    assert any(not (other[k] == weights[k]).all() for k in weights)  # the seed does matter from scratch
