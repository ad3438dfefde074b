"""Helpers shared by the training / inference tests, plus checks of the helpers themselves.

``build_tiny_bert`` writes a 2-layer random BertModel (hidden 64) with a WordPiece tokenizer trained on
the fly with ``tokenizers`` (no downloads); ``build_tiny_dataset`` writes a dataset folder in the
``mlnews data build`` layout (classification DatasetDict + labels.json) from synthetic ru/uk headlines
whose topic is carried by a keyword, so a tiny model can learn it in a few steps.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

LABELS = ["economy", "sports", "politics"]
KEYWORDS = {
    "economy": ["рубль", "банк", "нефть", "гривня", "інфляція", "ставка", "бюджет"],
    "sports": ["матч", "футбол", "хоккей", "турнир", "збірна", "чемпіонат", "гол"],
    "politics": ["выборы", "депутат", "закон", "президент", "уряд", "министр", "парламент"],
}
FILLER = ["сегодня", "вчера", "новость", "город", "неделя", "після", "знову", "стало", "известно", "про"]


def synthetic_rows(n: int, seed: int = 0, lang_split: float = 0.3) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        words = rng.sample(FILLER, 3) + [rng.choice(KEYWORDS[label])]
        rng.shuffle(words)
        lang = "uk" if rng.random() < lang_split else "ru"
        kind = "article" if i % 5 == 0 else "headline"
        rows.append({
            "id": f"syn-{seed}-{i}",
            "text": " ".join(words).capitalize(),
            "lead": "Подробности позже" if kind == "article" else "",
            "body": ("Текст статьи " + " ".join(rng.sample(FILLER, 4))) if kind == "article" else "",
            "label": label,
            "label_origin": "gold" if i % 2 else "source_rubric",
            "confidence": 1.0 if i % 2 else 0.8,
            "lang": lang,
            "source": "src_a" if i % 4 else "src_b",
            "kind": kind,
            "group": f"g{i}",
        })
    return rows


def build_tiny_dataset(path: Path, n_train: int = 90, n_eval: int = 30, labels: list[str] | None = None) -> Path:
    """A dataset folder like ``mlnews data build`` writes (classification splits + labels.json)."""
    from datasets import Dataset, DatasetDict

    labels = labels or LABELS
    dd = DatasetDict({
        "train": Dataset.from_list(synthetic_rows(n_train, seed=1)),
        "validation": Dataset.from_list(synthetic_rows(n_eval, seed=2)),
        "test": Dataset.from_list(synthetic_rows(n_eval, seed=3)),
    })
    path.mkdir(parents=True, exist_ok=True)
    dd.save_to_disk(str(path / "classification"))
    (path / "labels.json").write_text(
        json.dumps({"taxonomy": "tiny", "labels": labels, "descriptions": {}}, ensure_ascii=False), encoding="utf-8"
    )
    return path


def build_tiny_bert(path: Path, vocab_size: int = 300, hidden: int = 64) -> Path:
    """A random 2-layer BertModel + a WordPiece tokenizer of the synthetic vocabulary (built, not trained)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from infer_helpers import wordpiece_vocabulary
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    corpus = [r["text"] + " " + r["body"] for r in synthetic_rows(300, seed=9)]
    tok.model = wordpiece_vocabulary(tok, corpus, specials, vocab_size)  # the same in every process
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=64,
    )
    fast.save_pretrained(path)
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=64, pad_token_id=0,
    )
    BertModel(cfg).save_pretrained(path)
    return path


def test_tiny_dataset_has_the_built_layout(tmp_path):
    from datasets import load_from_disk

    path = build_tiny_dataset(tmp_path / "ds")
    dd = load_from_disk(str(path / "classification"))
    assert set(dd) == {"train", "validation", "test"}
    assert {"id", "text", "lead", "body", "label", "label_origin", "confidence", "lang", "source", "kind", "group"} <= set(
        dd["train"].column_names
    )
    assert sorted(set(dd["train"]["label"])) == sorted(LABELS)


def test_tiny_bert_loads_as_a_sequence_classifier(tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = build_tiny_bert(tmp_path / "bert")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
    out = model(**tok(["рубль банк", "матч гол"], padding=True, return_tensors="pt"))
    assert tuple(out.logits.shape) == (2, 3)
