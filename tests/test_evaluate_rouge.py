"""Cyrillic-correct ROUGE and chrF (mlnews.evaluate.rouge)."""

from __future__ import annotations

import pytest

from mlnews.evaluate.rouge import (
    corpus_scores,
    latin_only_tokenize,
    rouge_l,
    rouge_n,
    score_pair,
    tokenize,
)


def test_tokenize_keeps_cyrillic_drops_punctuation_and_folds_yo():
    assert tokenize("Зеленський заявив: «Це вже компроміс»!") == ["зеленський", "заявив", "це", "вже", "компроміс"]
    assert tokenize("Ёлка — в 2024-м году") == ["елка", "в", "2024-м", "году"]


def test_identical_cyrillic_is_one_and_disjoint_is_zero():
    s = "Путин и Ким Чен Ын обменялись письмами"
    same = score_pair(s, s)
    assert (same.rouge1, same.rouge2, same.rougeL) == (1.0, 1.0, 1.0)
    other = score_pair(s, "Зеленський заявив про компроміс")
    assert (other.rouge1, other.rouge2, other.rougeL) == (0.0, 0.0, 0.0)
    assert corpus_scores([s], [s])["rouge1"] == 100.0


def test_hand_computed_partial_overlap():
    # pred: путин посетил казань в среду (5 tokens); ref: путин посетил москву (3 tokens)
    pred, ref = tokenize("Путин посетил Казань в среду."), tokenize("Путин посетил Москву")
    # ROUGE-1: overlap 2, P = 2/5, R = 2/3, F = 2PR/(P+R) = 0.5
    assert rouge_n(pred, ref, 1) == pytest.approx(0.5)
    # ROUGE-2: bigrams pred 4, ref 2, overlap 1 ("путин посетил"): P = 1/4, R = 1/2, F = 1/3
    assert rouge_n(pred, ref, 2) == pytest.approx(1 / 3)
    # ROUGE-L: LCS = 2 -> same as ROUGE-1 here
    assert rouge_l(pred, ref) == pytest.approx(0.5)


def test_counts_are_clipped_and_lcs_respects_order():
    assert rouge_n(["да", "да", "да"], ["да"], 1) == pytest.approx(0.5)  # P = 1/3, R = 1 -> 0.5
    assert rouge_l(["б", "а"], ["а", "б"]) == pytest.approx(0.5)  # LCS 1 of 2


def test_empty_side_scores_zero():
    assert rouge_n([], ["а"], 1) == 0.0
    assert score_pair("", "Путин").rougeL == 0.0
    assert score_pair("!!!", "...").rouge1 == 0.0


def test_latin_only_tokenizer_erases_cyrillic():
    """The rouge_score default tokenizer keeps [a-z0-9] only: Cyrillic words vanish."""
    assert latin_only_tokenize("Путин посетил Казань в 2024 году") == ["2024"]
    blind = corpus_scores(["Путин посетил Казань"], ["Путин посетил Москву"], tokenizer=latin_only_tokenize)
    assert blind["rouge1"] == 0.0
    assert corpus_scores(["Путин посетил Казань"], ["Путин посетил Москву"])["rouge1"] > 60


def test_corpus_scores_per_language_and_chrf():
    preds = ["Путин посетил Казань", "Зеленський відвідав Львів"]
    refs = ["Путин посетил Казань", "Президент приїхав до Києва"]
    out = corpus_scores(preds, refs, ["ru", "uk"])
    assert out["n"] == 2 and set(out["per_lang"]) == {"ru", "uk"}
    assert out["per_lang"]["ru"]["rouge1"] == 100.0 and out["per_lang"]["uk"]["rouge1"] == 0.0
    assert out["rouge1"] == 50.0
    assert out["per_lang"]["ru"]["chrf"] == pytest.approx(100.0)
    assert 0.0 <= out["per_lang"]["uk"]["chrf"] < 40.0


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError):
        corpus_scores(["а"], [])
