"""HTML pages through trafilatura: title, marked lead, paragraphs; encodings and empty pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlnews.errors import InputError
from mlnews.ingest import read_document
from mlnews.ingest.html import parse_html_text, read_html
from mlnews.ingest.page import PageConfig

FIX = Path(__file__).parent / "fixtures" / "ingest"

BODY = (
    "<p>Первый абзац новости рассказывает, что произошло в городе вчера вечером и кто это видел.</p>"
    "<p>Второй абзац приводит мнение экспертов и объясняет, чего ждать жителям в ближайшие дни.</p>"
)


def test_lead_marked_by_class_is_separated_from_paragraphs():
    art = read_html(FIX / "article_lead.html")
    assert art.title == "Учёные нашли новый вид жуков в заповеднике"  # <h1>, not "<title> | Site"
    assert art.lead == "Энтомологи описали жука, который обитает только во влажных лесах на юге заповедника."
    assert len(art.paragraphs) == 3
    assert art.paragraphs[0].startswith("Первые экземпляры собрали")
    assert all(art.lead != p and art.title != p for p in art.paragraphs)
    assert not any("Все права защищены" in p or "Спорт" == p for p in art.paragraphs)  # footer / nav left out
    assert art.headlines == [] and art.lang == "ru" and art.source.endswith("article_lead.html")


def test_meta_description_teaser_makes_first_paragraph_the_lead_and_declared_cp1251_is_used():
    notes: list[str] = []
    art = read_html(FIX / "article_meta_cp1251.html", notes=notes)
    assert art.title == "Фермеры собрали рекордный урожай яблок"
    assert art.lead.startswith("В этом году фермеры области собрали почти вдвое больше яблок")
    assert art.lead.endswith("отсутствию заморозков.")  # the full paragraph, not the truncated teaser
    assert [p[:20] for p in art.paragraphs] == ["Часть урожая уже отп", "Эксперты предупрежда"]
    assert notes and "windows-1251" in notes[0]


def test_meta_description_that_is_not_a_teaser_is_the_lead():
    html = (
        '<html><head><title>Новость</title><meta name="description" content="Коротко: в городе открыли каток.">'
        f"</head><body><article><h1>Новость</h1>{BODY}</article></body></html>"
    )
    art = parse_html_text(html, "x.html")
    assert art.lead == "Коротко: в городе открыли каток."
    assert len(art.paragraphs) == 2


def test_no_lead_when_nothing_marks_one():
    html = f"<html><head><title>Новость дня</title></head><body><article><h1>Новость дня</h1>{BODY}</article></body></html>"
    art = parse_html_text(html, "x.html")
    assert art.lead is None and len(art.paragraphs) == 2 and art.title == "Новость дня"


def test_configurable_lead_classes():
    html = (
        "<html><head><title>Т</title></head><body><article><h1>Т</h1>"
        '<div class="vrezka">Врезка с главным содержанием новости для читателя.</div>'
        f"{BODY}</article></body></html>"
    )
    assert parse_html_text(html, "x.html").lead is None
    art = parse_html_text(html, "x.html", PageConfig(html_lead_classes=["vrezka"]))
    assert art.lead == "Врезка с главным содержанием новости для читателя."


def test_ukrainian_html_language():
    html = (
        "<html><head><title>Новина</title></head><body><article><h1>У Львові відкрили новий міст</h1>"
        "<p>Міська рада повідомила, що рух мостом стане можливим уже з понеділка, а роботи завершено.</p>"
        "</article></body></html>"
    )
    assert parse_html_text(html, "x.html").lang == "uk"


def test_page_without_article_text_is_an_error():
    with pytest.raises(InputError) as exc:
        read_html(FIX / "no_text.html")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(str(FIX / "no_text.html"))
    assert "no article text found" in msg


@pytest.mark.parametrize("content", [b"", b"\n\n", b"<html></html>", b"<html><body>   </body></html>"])
def test_empty_html_is_an_error(tmp_path, content):
    f = tmp_path / "e.html"
    f.write_bytes(content)
    with pytest.raises(InputError, match=r"(empty file|no article text found)"):
        read_html(f)


def test_binary_file_with_html_extension(tmp_path):
    f = tmp_path / "page.html"
    f.write_bytes(b"PK\x03\x04" + bytes(200))
    with pytest.raises(InputError, match="binary file \\(a ZIP archive"):
        read_html(f)


def test_utf8_html_without_declared_charset_and_cp1251_fallback(tmp_path):
    html = f"<html><head><title>Новость</title></head><body><article><h1>Новость</h1>{BODY}</article></body></html>"
    f = tmp_path / "cp.html"
    f.write_bytes(html.encode("cp1251"))  # no <meta charset>: UTF-8 fails, cp1251 is mostly Cyrillic
    notes: list[str] = []
    art = read_document(f, notes=notes)
    assert art.paragraphs[0].startswith("Первый абзац новости")
    assert "decoded as cp1251" in notes[0]


def test_missing_html_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_html(tmp_path / "missing.html")
