"""Trained extractive summariser at inference: windows, sentence scores, redundancy blocking, selection."""

from __future__ import annotations

import numpy as np


class _Tok:
    """A whitespace tokenizer with the few attributes encode_windows needs (ids = word lengths + 10)."""

    cls_token_id, sep_token_id, pad_token_id = 0, 2, 1

    def __call__(self, texts, add_special_tokens=False):
        if isinstance(texts, str):
            return {"input_ids": [len(w) + 10 for w in texts.split()]}
        return {"input_ids": [[len(w) + 10 for w in t.split()] for t in texts]}


def test_windows_cover_every_sentence_once_in_order():
    from mlnews.models.sentence_scorer import encode_windows

    sents = [" ".join(["слово"] * n) for n in (5, 7, 3, 9, 4, 30)]
    wins = encode_windows(_Tok(), sents, title="Заголовок статьи", prefix="query: ", max_length=24,
                          max_sentence_tokens=10)
    covered = [i for w in wins for i in w.sentences]
    assert covered == list(range(len(sents)))
    for w in wins:
        assert len(w.input_ids) <= 24 and len(w.input_ids) == len(w.token_type_ids) == len(w.sent_ids)
        assert w.input_ids[0] == 0 and w.sent_ids[:5] == [-1] * 5  # cls + "query:" + 2 title words + sep
        # interval segments: token type flips from one sentence to the next
        types = {j: {t for t, s in zip(w.token_type_ids, w.sent_ids) if s == j} for j in range(len(w.sentences))}
        assert all(len(v) == 1 for v in types.values())
        assert [types[j].pop() for j in range(len(w.sentences))][:2] in ([1, 0], [1])  # first sentence: type 1
    # the 30-word sentence was cut to 10 pieces + sep
    last = wins[-1]
    assert sum(1 for s in last.sent_ids if s == len(last.sentences) - 1) == 11
    first_only = encode_windows(_Tok(), sents, max_length=24, max_sentence_tokens=10, first_only=True)
    assert len(first_only) == 1 and first_only[0].sentences == wins[0].sentences


def test_sentence_logits_are_masked_and_per_target():
    import torch
    from transformers import BertConfig

    from mlnews.models.sentence_scorer import SentenceScorer, collate_windows, encode_windows

    cfg = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                     max_position_embeddings=64)
    cfg.extractive_targets = ["lead", "title"]
    torch.manual_seed(0)
    model = SentenceScorer(cfg).eval()
    a = encode_windows(_Tok(), ["а б в", "г д"], max_length=64)[0]
    b = encode_windows(_Tok(), ["е ж"], max_length=64)[0]
    batch = collate_windows([a, b], 1, labels=[[1.0, 0.0], [1.0]], targets=[0, 1])
    out = model(**batch)
    assert out["logits"].shape == (2, 2) and torch.isinf(out["logits"][1, 1]) and torch.isfinite(out["loss"])
    # the same window through the other head gives other scores
    other = model.sentence_logits(**{k: v for k, v in collate_windows([a], 1, targets=[1]).items()})
    assert not torch.allclose(other[0], out["logits"][0])


def test_listwise_loss_is_the_cross_entropy_to_the_gain_softmax():
    import math

    import torch

    from mlnews.models.sentence_scorer import listwise_loss

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.0, float("-inf")]])
    gains = torch.tensor([[0.6, 0.1, -100.0], [0.0, 0.0, -100.0]])
    mask = gains != -100.0
    loss = listwise_loss(logits, gains, mask, temperature=0.1)
    # window 1: target softmax over the two labelled slots (0.6 / 0.1 at T = 0.1), the third is masked out
    q = torch.softmax(torch.tensor([6.0, 1.0]), 0)
    p = torch.log_softmax(torch.tensor([2.0, 0.0]), 0)
    w1 = -(q * p).sum()
    w2 = -(0.5 * torch.log_softmax(torch.tensor([0.5, 0.0]), 0)).sum()  # equal gains: uniform target
    assert math.isclose(loss.item(), ((w1 + w2) / 2).item(), rel_tol=1e-5)
    # the loss falls when the best-gain sentence gets the top score
    better = listwise_loss(torch.tensor([[4.0, -2.0, 0.0], [0.0, 0.0, 0.0]]), gains, mask, 0.1)
    assert better < loss
    # no labelled slot at all: zero, not NaN
    assert listwise_loss(logits, gains, torch.zeros_like(mask), 0.1).item() == 0.0


def test_position_buckets_add_a_per_position_vector():
    import torch
    from transformers import BertConfig

    from mlnews.models.sentence_scorer import SentenceScorer, collate_windows, encode_windows

    cfg = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                     max_position_embeddings=64)
    cfg.extractive_targets = ["title"]
    cfg.extractive_position_buckets = 4
    torch.manual_seed(0)
    model = SentenceScorer(cfg).eval()
    wins = encode_windows(_Tok(), ["а б", "а б", "а б", "а б", "а б", "а б"], max_length=12)
    assert len(wins) > 1 and wins[1].sentences[0] > 0
    batch = collate_windows(wins, 1, targets=[0] * len(wins))
    assert batch["sent_pos"][1, 0].item() == wins[1].sentences[0]
    plain = model.sentence_logits(**batch).detach()
    with torch.no_grad():  # zero-initialised: the plain scorer until trained
        model.positions.weight[0] += 1.0
    moved = model.sentence_logits(**batch).detach()
    assert not torch.isclose(moved[0, 0], plain[0, 0])  # sentence 0 moved
    assert torch.allclose(moved[1, 0], plain[1, 0])  # a later sentence (another bucket) did not


def test_trigram_blocking_and_choice():
    from mlnews.infer.extractive_model import block_redundant, choose

    sents = ["Дата.", "В Киеве открыли новый мост через Днепр.", "Его длина составляет триста метров.",
             "В Киеве открыли новый мост через Днепр сегодня.", "Погода хорошая."]
    assert block_redundant([1, 3, 2, 4], sents) == [1, 2, 4]  # 3 repeats "в киеве открыли" of 1
    scores = np.array([9.0, 3.0, 1.0, 2.5, 0.5])
    assert choose(scores, sents, 2, None, skip=1) == [1, 2]  # dateline skipped, 3 blocked, article order
    assert choose(scores, sents, 2, None, blocking=False, skip=1) == [1, 3]
    assert choose(scores, sents, 3, 10, skip=1) == [1, 4]  # word budget: 7 + 2 words


def test_textrank_blend_moves_the_choice_towards_the_central_sentence():
    from mlnews.infer.extractive import centrality, textrank
    from mlnews.infer.extractive_model import blend, choose, standardised

    sents = ["МОСКВА, 1 дек - РИА Новости.", "Погода в столице будет тёплой.",
             "Правительство утвердило новый бюджет страны на следующий год.",
             "Бюджет страны на следующий год вырос, сообщило правительство.",
             "Депутаты обсудят новый бюджет страны в декабре."]
    c = centrality(sents[1:])
    assert c.shape == (4,) and int(np.argmax(c)) != 0  # the weather sentence shares no word with the others
    assert textrank(sents[1:], k=1) == [int(np.argmax(c))]  # TextRank ranks by the same centrality
    logits = np.array([0.0, 2.0, 1.0, 0.5, 0.2])  # the model prefers the weather sentence
    assert choose(logits, sents, 1, None, skip=1) == [1]
    assert np.array_equal(blend(logits, sents, 1, 0.0), logits)  # weight 0: the logits as they are
    mixed = blend(logits, sents, 1, 4.0)
    assert np.isneginf(mixed[0]) and np.allclose(mixed[1:], standardised(logits[1:]) + 4.0 * standardised(c))
    assert choose(logits, sents, 1, None, skip=1, textrank_weight=4.0) == [1 + int(np.argmax(c))]
    # the bonus is added after the blend, on its scale
    assert choose(logits, sents, 1, None, skip=1, textrank_weight=4.0, first_bonus=100.0) == [1]
    assert np.array_equal(standardised(np.array([3.0, 3.0])), [0.0, 0.0])
