"""Page-dump parser, decoding checks and read_document."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlnews.errors import ConfigError, InputError
from mlnews.ingest import parse_plain_text, read_document
from mlnews.ingest.page import PageConfig, load_page_config, parse_page_text, read_page

FIX = Path(__file__).parent / "fixtures" / "ingest"
TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


def page(*lines: str) -> str:
    return "\n".join(lines) + "\n"


# --- the seed page -----------------------------------------------------------------------------


def test_seed_page_parses_exactly(seed_page):
    art = read_page(seed_page)
    assert art.title == "Путин и Ким Чен Ын обменялись письмами: в Reuters узнали их содержимое"
    assert art.lead == (
        "Путин и Ким Чен Ын обменялись письмами, в которых обсуждали развитие двухсторонних "
        "стратегических отношений."
    )
    assert len(art.paragraphs) == 10
    assert art.paragraphs[0].startswith("Главной темой дня стала 78-я годовщина")
    assert art.paragraphs[-1].startswith("Напомним, хакеры из КНДР")
    assert "Последние новости" not in art.body
    assert len(art.headlines) == 6
    assert art.headlines[0].text == (
        'Герасимову устроили "жесткий разнос" за провал в Покровске и Купянске – в Генштабе ВС РФ царит хаос'
    )
    assert [h.time for h in art.headlines] == ["12:34", "12:01", "11:24", "10:53", "09:07", None]
    assert art.headlines[1].text.startswith('"Снимай, как договаривались": в Запорожье')
    assert art.headlines[-1].text.startswith("В Купянске 127-я ОТМБр ")
    assert art.headlines[-1].text.endswith('"Россияне использовали их как щит"')
    for h in art.headlines:
        assert not re.match(r"\d\d:\d\d", h.text), h.text
        assert h.lang == "ru"
    assert art.lang == "ru"
    assert art.source == str(seed_page)


# --- layout rules ------------------------------------------------------------------------------


def test_ukrainian_fixture_bom_crlf_nbsp_and_time_on_own_line():
    art = read_page(FIX / "page_uk.txt")
    assert art.title == "У Львові відкрили новий міст через залізницю"  # BOM and trailing spaces gone
    assert art.lead.startswith("Міська рада повідомила")
    assert len(art.paragraphs) == 3  # blank CRLF lines ignored
    assert art.paragraphs[0].endswith("гривень.")  # NBSP at the end normalised away
    assert all("\r" not in p and "\u00a0" not in p for p in art.paragraphs)
    assert [(h.text[:20], h.time) for h in art.headlines] == [
        ("На Харківщині віднов", "14:05"),
        ("Збірна України з фут", "13:40"),  # its time stands alone on the next line
        ('"Ми готові до зими":', "12:15"),
        ("У Києві запрацює ще ", None),
    ]
    assert art.lang == "uk" and {h.lang for h in art.headlines} == {"uk"}


def test_title_only_page_is_a_documented_result():
    art = parse_page_text("Только заголовок без текста\n", "t.txt")
    assert (art.title, art.lead, art.paragraphs, art.headlines) == ("Только заголовок без текста", None, [], [])


def test_title_and_lead_only():
    art = parse_page_text(page("Заголовок", "Лид статьи."), "t.txt")
    assert art.lead == "Лид статьи." and art.paragraphs == []


def test_sidebar_heading_without_headlines_gives_no_headlines():
    art = parse_page_text(page("Заголовок", "Лид.", "Абзац один.", "Абзац два.", "Последние новости", "", "  "), "t")
    assert art.paragraphs == ["Абзац один.", "Абзац два."]
    assert art.headlines == []


def test_sidebar_heading_is_case_insensitive_and_whitespace_normalised():
    art = parse_page_text(page("Заголовок", "Лид.", "Абзац.", "  ПОСЛЕДНИЕ\u00a0 новости ", "Новость дня", "10:15"), "t")
    assert art.paragraphs == ["Абзац."]
    assert [(h.text, h.time) for h in art.headlines] == [("Новость дня", "10:15")]


def test_sidebar_directly_after_title_means_no_lead():
    art = parse_page_text(page("Заголовок", "Новини", "Перша новина дня", "08:00"), "t")
    assert art.lead is None and art.paragraphs == []
    assert [(h.text, h.time) for h in art.headlines] == [("Перша новина дня", "08:00")]


def test_a_later_heading_inside_the_sidebar_is_a_section_heading():
    art = parse_page_text(page("З", "Л", "Главное", "Первая новость", "11:00", "Новости", "Вторая новость", "10:00"), "t")
    assert [(h.text, h.time) for h in art.headlines] == [("Первая новость", "11:00"), ("Вторая новость", "10:00")]


@pytest.mark.parametrize(
    "lines, expected",
    [
        # not a time: one-digit hour or minute, hour > 23, minute > 59
        (["2:0 в пользу хозяев", "12:00"], [("2:0 в пользу хозяев", "12:00")]),
        (["Первая", "12:0024:7 — новый формат", "11:00"], [("Первая", "12:00"), ("24:7 — новый формат", "11:00")]),
        (["Первая", "12:0023:60 — не время", "11:00"], [("Первая", "12:00"), ("23:60 — не время", "11:00")]),
        # a headline starting with a real time survives when nobody is waiting for a time
        (["10:00 — начало саммита", "09:30"], [("10:00 — начало саммита", "09:30")]),
        (["Первая", "12:00", "10:00 — начало саммита", "09:30"], [("Первая", "12:00"), ("10:00 — начало саммита", "09:30")]),
        # ... but right after a headline without a time, a leading HH:MM is that headline's time
        (["Первая", "10:00 — начало саммита"], [("Первая", "10:00"), ("— начало саммита", None)]),
        # a glued time followed by a headline that starts with digits
        (["Первая", "12:345 причин купить зонт", "11:00"], [("Первая", "12:34"), ("5 причин купить зонт", "11:00")]),
        # quotes and dashes kept
        (['"Цитата" – источник', '09:07«Ёлки» — 3 дня'], [('"Цитата" – источник', "09:07"), ("«Ёлки» — 3 дня", None)]),
    ],
)
def test_time_gluing_rule(lines, expected):
    art = parse_page_text(page("Заголовок", "Лид.", "Последние новости", *lines), "t")
    assert [(h.text, h.time) for h in art.headlines] == expected


def test_stray_time_is_an_error_naming_the_line():
    with pytest.raises(InputError, match=r"^t\.txt:5: sidebar time 12:00 has no headline"):
        parse_page_text(page("Заголовок", "Лид.", "Абзац.", "Новости", "12:00", "Новость"), "t.txt")
    with pytest.raises(InputError, match=r"^t\.txt:6: sidebar time 11:00 .*already has a time"):
        parse_page_text(page("Заголовок", "Лид.", "Новости", "Новость", "12:00", "11:00"), "t.txt")


# --- bad input ---------------------------------------------------------------------------------


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.mark.parametrize("content", [b"", b"   \n\r\n\t", "\u00a0\n\u200b\n".encode()])
def test_empty_page_is_rejected(tmp_path, content):
    f = tmp_path / "empty.txt"
    f.write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_page(f)
    msg = one_line(exc)
    assert msg.startswith(str(f)) and "empty" in msg and "expected" in msg


@pytest.mark.parametrize(
    "content, what",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "PNG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"title\n\x00\x01\x02\x03 binary", "NUL bytes"),
    ],
)
def test_binary_file_is_rejected(tmp_path, content, what):
    f = tmp_path / "page.txt"
    f.write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_page(f)
    msg = one_line(exc)
    assert msg.startswith(str(f)) and "binary file" in msg and what in msg


def test_cp1251_page_is_decoded_and_reported():
    notes: list[str] = []
    art = read_page(FIX / "page_cp1251.txt", notes=notes)
    assert art.title == "Городской парк закроют на реконструкцию до весны"
    assert len(art.paragraphs) == 2
    assert [(h.text, h.time) for h in art.headlines] == [
        ("Школьники из Томска победили на олимпиаде по программированию", "09:12"),
        ("Цены на гречку выросли за неделю на три процента", "08:47"),
    ]
    assert len(notes) == 1 and "decoded as cp1251" in notes[0] and "page_cp1251.txt" in notes[0]


def test_non_utf8_non_cyrillic_is_rejected(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("Élection présidentielle à Genève\nLe résultat était très serré.\n".encode("latin-1"))
    with pytest.raises(InputError) as exc:
        read_page(f)
    assert "not UTF-8 text" in one_line(exc) and "not cp1251 Cyrillic" in str(exc.value)


def test_utf16_with_bom_is_decoded(tmp_path):
    f = tmp_path / "utf16.txt"
    f.write_bytes(page("Заголовок", "Лид.", "Абзац.").encode("utf-16"))
    notes: list[str] = []
    assert read_page(f, notes=notes).paragraphs == ["Абзац."]
    assert "UTF-16" in notes[0]


def test_ten_megabyte_single_line_is_rejected_as_title(tmp_path):
    f = tmp_path / "huge.txt"
    f.write_bytes(("Очень длинная строка без переводов. " * 300_000).encode())
    assert f.stat().st_size > 10_000_000
    with pytest.raises(InputError) as exc:
        read_page(f)
    msg = one_line(exc)
    assert msg.startswith(f"{f}:1:") and "too long for a title" in msg and "max_title_chars=1000" in msg


def test_ten_megabyte_single_line_as_plain_text_is_body(tmp_path):
    text = "Очень длинная строка без переводов. " * 300_000
    art = parse_plain_text(text, "huge.txt")
    assert art.title == "" and len(art.paragraphs) == 1 and art.lang == "ru"


def test_file_over_max_bytes_is_rejected(tmp_path):
    f = tmp_path / "big.txt"
    f.write_text(page("Заголовок", "Лид.", "Абзац " * 100), encoding="utf-8")
    with pytest.raises(InputError, match="over max_file_bytes=100"):
        read_page(f, PageConfig(max_file_bytes=100))


def test_directory_and_missing_file_are_rejected(tmp_path):
    with pytest.raises(InputError) as exc:
        read_page(tmp_path)
    assert one_line(exc) == f"{tmp_path}: is a directory; expected a page file (a directory can be given to `mlnews classify`)"
    with pytest.raises(InputError) as exc:
        read_page(tmp_path / "nope.txt")
    assert one_line(exc).startswith(f"{tmp_path / 'nope.txt'}: no such file; expected")


# --- config ------------------------------------------------------------------------------------


def test_shipped_yaml_matches_builtin_defaults(repo):
    assert load_page_config(repo / "configs" / "ingest" / "page.yaml") == PageConfig()


def test_yaml_config_overrides_headings(tmp_path):
    cfg_file = tmp_path / "page.yaml"
    cfg_file.write_text("sidebar_headings: [Читайте также]\n", encoding="utf-8")
    cfg = load_page_config(cfg_file)
    text = page("Заголовок", "Лид.", "Абзац.", "Новости", "Читайте также", "Ссылка на статью")
    art = parse_page_text(text, "t", cfg)
    assert art.paragraphs == ["Абзац.", "Новости"]
    assert [h.text for h in art.headlines] == ["Ссылка на статью"]


def test_bad_config_key_and_override(tmp_path):
    cfg_file = tmp_path / "page.yaml"
    cfg_file.write_text("sidebar_heading: [x]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sidebar_heading: unknown key"):
        load_page_config(cfg_file)
    with pytest.raises(ConfigError, match="max_title_chars: expected a positive integer"):
        load_page_config(None, ["max_title_chars=0"])
    assert load_page_config(None, ["max_title_chars=50"]).max_title_chars == 50


# --- read_document -------------------------------------------------------------


def test_read_document_detects_kinds(tmp_path, seed_page):
    assert len(read_document(seed_page).headlines) == 6  # sidebar heading -> page layout
    plain = read_document(FIX / "plain.txt")  # no sidebar -> plain text: title + body, no lead
    assert plain.title == "Как выбрать зимние шины" and plain.lead is None and len(plain.paragraphs) == 2
    forced = read_document(FIX / "plain.txt", kind="page")
    assert forced.lead.startswith("Сначала стоит решить") and len(forced.paragraphs) == 1
    html_in_txt = tmp_path / "saved.txt"  # HTML recognised by content, whatever the extension
    html_in_txt.write_bytes((FIX / "article_lead.html").read_bytes())
    assert read_document(html_in_txt).title == "Учёные нашли новый вид жуков в заповеднике"


def test_read_document_from_stdin(monkeypatch):
    data = page("Заголовок из stdin", "Лид.", "Абзац.", "Новини", "Новина дня", "07:45")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode("utf-8"))))
    art = read_document("-")
    assert art.source == "<stdin>" and art.title == "Заголовок из stdin"
    assert [(h.text, h.time) for h in art.headlines] == [("Новина дня", "07:45")]


def test_read_document_rejects_empty_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(InputError, match=r"^<stdin>: empty file"):
        read_document("-")


# --- properties --------------------------------------------------------------------------------

_WORD = st.text(alphabet="абвгдежзиклмнопрстуфхцчшщыэюяіїєґАБВ0123456789:\"«»–—-.,!? ", min_size=1, max_size=25)
# Headlines as the parser returns them: whitespace runs are folded to one space (clean_line).
_HEADLINE = _WORD.map(lambda s: " ".join(s.split())).filter(lambda s: s and not re.match(r"(?:[01]\d|2[0-3]):[0-5]\d", s))
_TIME = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


@st.composite
def sidebars(draw):
    """A well-formed sidebar: headlines, each followed by its time (glued or alone); the last maybe none."""
    n = draw(st.integers(1, 8))
    items = [(draw(_HEADLINE), draw(_TIME)) for _ in range(n)]
    if draw(st.booleans()):
        items[-1] = (items[-1][0], None)
    lines: list[str] = []
    pending: str | None = None
    for text, time in items:
        glue = pending is not None and draw(st.booleans())
        if pending is not None and not glue:
            lines.append(pending)
        lines.append((pending if glue else "") + text)
        pending = time
        lines.extend([""] * draw(st.integers(0, 1)))
    if pending is not None:
        lines.append(pending)
    return items, lines


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sidebars())
def test_property_wellformed_sidebar_round_trips(sample):
    items, lines = sample
    art = parse_page_text(page("Заголовок", "Лид.", "Абзац.", "Последние новости", *lines), "t")
    assert [(h.text, h.time) for h in art.headlines] == items


_LINE = st.one_of(
    _WORD,
    _TIME,
    st.builds(lambda t, w: t + w, _TIME, _WORD),
    st.sampled_from(["", "   ", "\u00a0", "Новости"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_property_never_crashes_and_every_sidebar_line_is_in_one_headline(lines, eol):
    text = eol.join(["Заголовок", "Лид.", "Абзац.", "Последние новости", *lines])
    try:
        art = parse_page_text(text, "t")
    except InputError as exc:
        assert "sidebar time" in str(exc)  # the only way a sidebar can be rejected: a stray time
        return
    assert all(h.time is None or TIME.match(h.time) for h in art.headlines)
    assert all(h.text and h.text == h.text.strip() for h in art.headlines)
    sidebar = [ln.strip() for ln in lines if ln.strip() and ln.strip().casefold() != "новости"]
    # Every sidebar line is consumed in order: as one headline's text, as the previous headline's time,
    # or as a time glued to the next headline's text; nothing is lost, duplicated or invented.
    squash = "".join(sidebar).replace(" ", "")
    rebuilt = "".join(h.text + (h.time or "") for h in art.headlines).replace(" ", "")
    assert rebuilt == squash
    lines_with_text = [ln for ln in sidebar if not TIME.match(ln)]
    assert len(art.headlines) == len(lines_with_text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_property_arbitrary_text_never_crashes(text):
    try:
        art = parse_page_text(text, "t")
    except InputError:
        return
    assert art.title and all(h.time is None or TIME.match(h.time) for h in art.headlines)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_property_any_bytes_decode_or_fail_with_one_line(data):
    from mlnews.ingest.decode import decode_bytes

    try:
        decoded = decode_bytes(data, "f.txt")
    except InputError as exc:
        assert str(exc).startswith("f.txt: ") and "\n" not in str(exc)
        return
    assert decoded.encoding in ("utf-8", "utf-8-sig", "utf-16", "cp1251")
    assert (decoded.encoding == "cp1251") == any("cp1251" in n for n in decoded.notes)


# --- hostile input (issue #15) -------------------------------------------------------------------


@pytest.mark.parametrize("line", ["1٣:45Вторая", "١٢:٣٤Вторая", "１２:３４Вторая", "12:3٤Вторая"])
def test_only_ascii_digits_make_a_sidebar_time(line):
    """``\\d`` matches Arabic-Indic, fullwidth ... digits; a sidebar time is two ASCII digits each side."""
    art = parse_page_text(page("Заголовок", "Лид.", "Последние новости", "Первая", line, "11:00"), "t")
    assert [(h.text, h.time) for h in art.headlines] == [("Первая", None), (line, "11:00")]


def test_lone_surrogates_become_replacement_characters():
    text = page("Курс \ud800 упал", "Лид \udfff.", "Абзац.", "Последние новости", "Новость \udc80 дня", "12:00")
    art = parse_page_text(text, "t")  # lingua used to raise UnicodeEncodeError here
    assert art.title == "Курс \ufffd упал" and art.lead == "Лид \ufffd."
    assert [(h.text, h.time) for h in art.headlines] == [("Новость \ufffd дня", "12:00")]
    assert art.lang == "ru" and art.headlines[0].lang == "ru"
    assert (art.title + art.lead + art.headlines[0].text).encode("utf-8")


_HOSTILE_CHAR = st.one_of(
    st.characters(codec=None, categories=["Cs", "Cc", "Cf", "Zs", "Nd", "Zl", "Zp"]),  # surrogates, controls, digits
    st.sampled_from("абвгдеёжзыіїєґABCxyzאבגعربي中文ΩΣ٣۴१３:"),  # mixed scripts, non-ASCII digits
)
_HOSTILE_LINE = st.one_of(_LINE, st.text(_HOSTILE_CHAR, min_size=1, max_size=20),
                          st.builds(lambda t, w: t + w, _TIME, st.text(_HOSTILE_CHAR, max_size=10)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_HOSTILE_LINE, max_size=12))
def test_property_hostile_sidebar_never_crashes_and_keeps_every_line(lines):
    """Surrogates, control characters, mixed scripts and non-ASCII digits: the sidebar-line invariant holds."""
    from mlnews.ingest.decode import split_lines
    from mlnews.text import clean_line, replace_surrogates

    text = "\n".join(["Заголовок", "Лид.", "Абзац.", "Последние новости", *lines])
    try:
        art = parse_page_text(text, "t")
    except InputError as exc:
        assert "sidebar time" in str(exc) and "\n" not in str(exc)
        return
    ascii_time = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")
    assert all(h.time is None or ascii_time.match(h.time) for h in art.headlines)
    # the parser's own line split and normalisation, then the same invariant as above
    heads = {"последние новости", "новости"}
    sidebar = [clean_line(ln) for ln in split_lines(replace_surrogates(text))[4:]]
    sidebar = [ln for ln in sidebar if ln and ln.casefold() not in heads]
    rebuilt = "".join(h.text + (h.time or "") for h in art.headlines)
    assert "".join(rebuilt.split()) == "".join("".join(sidebar).split())  # whitespace (\x1f too) may be trimmed
    assert len(art.headlines) == len([ln for ln in sidebar if not ascii_time.match(ln)])
