"""Sentence splitting, lead-k and TextRank (mlnews.ingest.sentences / extractive)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlnews.infer.extractive import lead, pagerank, textrank, tfidf_similarity
from mlnews.ingest.sentences import count_words, split_sentences, truncate_words

ARTICLE = """В. Путин провёл совещание с членами правительства в Кремле. Обсуждали бюджет, т.е. расходы на 2025 г. и доходы.
«Мы справимся. Всё будет хорошо», — заявил президент. Курс составил 92,5 руб. за доллар.
Министр финансов А. Силуанов доложил о расходах бюджета. Расходы бюджета выросли на 3,5 %.
Погода в Москве была солнечной."""


def test_sentences_handle_initials_abbreviations_quotes_numbers():
    sents = split_sentences(ARTICLE)
    assert sents == [
        "В. Путин провёл совещание с членами правительства в Кремле.",
        "Обсуждали бюджет, т.е. расходы на 2025 г. и доходы.",
        "«Мы справимся. Всё будет хорошо», — заявил президент.",
        "Курс составил 92,5 руб. за доллар.",
        "Министр финансов А. Силуанов доложил о расходах бюджета.",
        "Расходы бюджета выросли на 3,5 %.",
        "Погода в Москве была солнечной.",
    ]


def test_ukrainian_sentences_and_lowercase_continuation():
    assert split_sentences("Ціна — 25 тис. грн. за тонну. Наступне речення.") == [
        "Ціна — 25 тис. грн. за тонну.", "Наступне речення."]
    assert split_sentences("Приехал проф. иванов и др. сотрудники. Новое") == [
        "Приехал проф. иванов и др. сотрудники.", "Новое"]


def test_paragraph_break_always_splits_and_cap_is_lazy():
    assert split_sentences("Заголовок без точки\nТекст статьи.") == ["Заголовок без точки", "Текст статьи."]
    assert len(split_sentences("Предложение номер один. " * 5000, max_sentences=3)) == 3


def _is_ordered_subsequence(idx: list[int], n: int) -> bool:
    return idx == sorted(set(idx)) and all(0 <= i < n for i in idx)


def test_lead_takes_a_prefix_within_budget():
    sents = split_sentences(ARTICLE)
    assert lead(sents, 3) == [0, 1, 2]
    assert lead(sents, None, max_words=20) == [0, 1]  # 9 + 10 words; the third (8) would exceed 20
    assert lead(sents, 5, max_words=3) == [0]  # over budget alone: the caller truncates it


def test_textrank_prefers_central_sentences_and_keeps_order():
    sents = split_sentences(ARTICLE)
    idx = textrank(sents, 2)
    assert _is_ordered_subsequence(idx, len(sents)) and len(idx) == 2
    assert 6 not in idx  # the weather sentence shares no words with the rest
    assert set(idx) & {1, 4, 5}  # the budget sentences are the connected core


def test_pagerank_is_a_distribution_and_uniform_for_no_edges():
    sim = tfidf_similarity(split_sentences(ARTICLE))
    scores = pagerank(sim)
    assert abs(scores.sum() - 1.0) < 1e-6
    flat = pagerank(tfidf_similarity(["1.", "2.", "3."]))
    assert max(flat) - min(flat) < 1e-9


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(split_sentences(ARTICLE)), min_size=1, max_size=12),
       st.integers(1, 5), st.integers(1, 40))
def test_extractive_output_is_an_ordered_subsequence_within_budget(sents, k, budget):
    for idx in (lead(sents, k, budget), textrank(sents, k, budget)):
        assert _is_ordered_subsequence(idx, len(sents))
        assert 1 <= len(idx) <= k
        words = sum(count_words(sents[i]) for i in idx)
        assert words <= budget or len(idx) == 1  # a single over-long sentence is cut by the caller


def test_truncate_words():
    assert truncate_words("один два три четыре", 2) == "один два…"
    assert truncate_words("один два", 5) == "один два"
