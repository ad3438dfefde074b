"""Tiny model folders for the inference tests (built on the fly, no downloads).

``tiny_transformer_dir`` writes a 2-layer random BERT with a WordPiece tokenizer trained on a
handful of Russian/Ukrainian headlines, ``tiny_tfidf_dir`` a TF-IDF + logistic regression
pipeline saved with skops. Both carry an ``mlnews.json`` manifest as described in
docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import json
from pathlib import Path

LABELS = ["economy", "sports", "politics"]

HEADLINES = {
    "economy": [
        "Курс рубля упал на бирже после решения ЦБ",
        "Нефть подорожала на фоне сокращения добычи",
        "Інфляція в Україні сповільнилася до п'яти відсотків",
        "Банки снизили ставки по ипотеке",
        "Гривня зміцнилася на міжбанку",
        "Акции Сбербанка выросли на торгах",
    ],
    "sports": [
        "Спартак обыграл Зенит в матче чемпионата",
        "Динамо Київ перемогло Шахтар у фіналі кубка",
        "Хоккеисты сборной вышли в полуфинал",
        "Теннисистка выиграла турнир в Москве",
        "Збірна України з футболу зіграє товариський матч",
        "Футболист перешел в новый клуб",
    ],
    "politics": [
        "Президент подписал указ о выборах",
        "Депутати Верховної Ради ухвалили закон",
        "Госдума приняла закон во втором чтении",
        "Министр иностранных дел встретился с коллегой",
        "Прем'єр-міністр провів нараду уряду",
        "Правительство объявило об отставке",
    ],
}


def labelled_headlines() -> list[tuple[str, str]]:
    return [(t, lab) for lab, texts in HEADLINES.items() for t in texts]


def _manifest(kind: str, labels: list[str] | None = None, **extra) -> dict:
    man = {
        "format": 1,
        "task": "classification",
        "kind": kind,
        "labels": list(labels or LABELS),
        "input": {"prefix": "", "max_length": 32, "use_lead": True, "body_chars": 300},
        "base_model": "tiny-random-bert",
        "mlnews_version": "0.1.0",
        "created": "2026-01-01T00:00:00Z",
    }
    man.update(extra)
    return man


def wordpiece_vocabulary(tok, corpus: list[str], specials: list[str], vocab_size: int):
    """A WordPiece model for ``tok`` (its normaliser and pre-tokenizer set), built without a trainer: the specials,
    every character alone and as a ``##`` continuation, then the corpus words, the most frequent first, up to
    ``vocab_size`` pieces. ``WordPieceTrainer`` breaks ties in Rust hash-map order, which differs per process, so
    each test run got another tokenizer (and another tiny model); this one is the same every time."""
    from tokenizers import models

    counts: dict[str, int] = {}
    for text in corpus:
        for word, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text)):
            counts[word] = counts.get(word, 0) + 1
    chars = sorted({c for w in counts for c in w})
    pieces = list(specials) + chars + ["##" + c for c in chars]
    words = [w for w in sorted(counts, key=lambda w: (-counts[w], w)) if len(w) > 1]
    pieces += words[: max(0, vocab_size - len(pieces))]
    return models.WordPiece(vocab={p: i for i, p in enumerate(pieces)}, unk_token="[UNK]")


def tiny_transformer_dir(path: Path, seed: int = 0, train_steps: int = 80) -> Path:
    """A 2-layer BERT classifier folder (save_pretrained + tokenizer + mlnews.json).

    Random weights, then ``train_steps`` full-batch steps on :func:`labelled_headlines`.
    """
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    # WordPieceTrainer, not wordpiece_vocabulary: the tests of this folder need its shared subword pieces
    # (whole-word pieces: 60 of 90 headlines learnt, against the 0.8 floor); its tie order varies per process
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials)
    corpus = [t for t, _ in labelled_headlines()] * 3
    tok.train_from_iterator(corpus, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=32,
    )
    fast.save_pretrained(path)

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        # No dropout: the tokenizer trainer's tie-breaking varies between runs, so the fit must be robust.
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
    )
    model = BertForSequenceClassification(config)
    if train_steps:
        # A few full-batch steps on the tiny set: predictions become distinct and mostly right.
        texts, labels = zip(*labelled_headlines())
        enc = fast(list(texts), padding=True, return_tensors="pt")
        target = torch.tensor([LABELS.index(lab) for lab in labels])
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(train_steps):
            loss = model(**enc, labels=target).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
    model.eval()
    model.save_pretrained(path)
    (path / "mlnews.json").write_text(json.dumps(_manifest("transformer"), ensure_ascii=False), encoding="utf-8")
    (path / "metrics.json").write_text(json.dumps({"accuracy": 0.0, "macro_f1": 0.0}), encoding="utf-8")
    return path


def tiny_tfidf_dir(path: Path) -> Path:
    """A TF-IDF + logistic-regression folder (``model.skops``) trained on the tiny headline set."""
    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    path.mkdir(parents=True, exist_ok=True)
    texts, labels = zip(*labelled_headlines())
    pipe = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))),
            ("clf", LogisticRegression(C=10.0, max_iter=500)),
        ]
    )
    pipe.fit(list(texts), list(labels))
    sio.dump(pipe, path / "model.skops")
    (path / "mlnews.json").write_text(json.dumps(_manifest("tfidf", labels=[str(c) for c in pipe.classes_]), ensure_ascii=False), encoding="utf-8")
    return path
