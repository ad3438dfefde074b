"""mlnews.types and mlnews.text: the shared concepts and text helpers."""

from __future__ import annotations

import pytest

from mlnews.text import clean_line, compose_text, normalise_for_match
from mlnews.types import Article, Headline, LabelSet


def test_labelset_round_trip_and_errors():
    ls = LabelSet(["society", "economy", "sports"])
    assert ls.encode("economy") == 1 and ls.decode(2) == "sports" and len(ls) == 3
    assert "society" in ls and "weather" not in ls
    with pytest.raises(KeyError, match="weather"):
        ls.encode("weather")
    with pytest.raises(ValueError, match="duplicate"):
        LabelSet(["a", "a"])


def test_article_json_shape():
    art = Article(title="T", lead="L", paragraphs=["p1", "p2"], headlines=[Headline("h", "12:34", "ru")], lang="ru", source="x.txt")
    assert art.to_json() == {
        "title": "T",
        "lead": "L",
        "paragraphs": ["p1", "p2"],
        "headlines": [{"text": "h", "time": "12:34", "lang": "ru"}],
        "lang": "ru",
        "source": "x.txt",
    }
    assert art.body == "p1\np2"


def test_text_helpers():
    assert clean_line("\ufeff  Київ\u00a0 —  столиця \t") == "Київ — столиця"
    assert normalise_for_match("Ёлка, «ЕЛКА»!") == "елка елка"
    text = compose_text("Заголовок", "Лид", "слово " * 100, body_chars=20, prefix="query: ")
    assert text.startswith("query: Заголовок\nЛид\n") and len(text) < 60
    assert compose_text("Заголовок", "Лид", "тело", use_lead=False, body_chars=0) == "Заголовок"
