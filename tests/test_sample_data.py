"""Validate the bundled demo sample under data/sample (original text written for mlnews).

The sample is used by the README demo, by the ingest tests (pages/, html/) and as a small
independent ru/uk evaluation set, so its schema, labels, languages and layout are checked here.
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import pytest
import razdel

from mlnews.text import normalise_for_match

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
README = SAMPLE.parent / "README.md"

TAXONOMY = ("society", "economy", "technology", "sports", "entertainment", "science", "other")
LANGS = ("ru", "uk")
HEADLINE_FIELDS = {"id", "source", "lang", "title", "label", "label_origin", "published"}
ARTICLE_FIELDS = HEADLINE_FIELDS | {"url", "lead", "text"}
MIN_HEADLINES_PER_CELL = 25

UK_LETTERS = set("іїєґ")
RU_LETTERS = set("ыэъё")
# Frequent Ukrainian words that do not exist as words in Russian.
UK_ONLY_WORDS = {"як", "що", "щоб", "щодо", "це", "від", "або", "вже", "ще", "з", "зі", "із", "й"}
SIDEBAR_HEADINGS = {"ru": {"Последние новости", "Главное"}, "uk": {"Останні новини", "Головне"}}
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d")


def _words(text: str) -> set[str]:
    """Lower-cased words; hyphenated and apostrophised forms (``78-й``, ``п'ять``) stay whole."""
    return set(re.findall(r"\w+(?:[-'ʼ’]\w+)*", text.lower()))


def _lang_problem(text: str, lang: str) -> str | None:
    """Why ``text`` does not look like ``lang`` by letter and word cues (None when it does)."""
    low = text.lower()
    if lang == "ru":
        bad = sorted(UK_LETTERS & set(low)) + sorted(UK_ONLY_WORDS & _words(low))
        return f"Ukrainian cues {bad} in a ru text" if bad else None
    if lang == "uk":
        if RU_LETTERS & set(low):
            return f"Russian-only letters {sorted(RU_LETTERS & set(low))} in a uk text"
        if not (UK_LETTERS & set(low) or UK_ONLY_WORDS & _words(low)):
            return "no Ukrainian letter (і ї є ґ) or Ukrainian-only word in a uk text"
        return None
    return f"lang {lang!r} is not one of {LANGS}"


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name}:{n}: empty line"
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            pytest.fail(f"{path.name}:{n}: not valid JSON ({exc})")
    return rows


@pytest.fixture(scope="module")
def headlines() -> list[dict]:
    return _read_jsonl(SAMPLE / "headlines.jsonl")


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    return _read_jsonl(SAMPLE / "articles.jsonl")


@pytest.fixture(scope="module")
def pages_expected() -> dict:
    return json.loads((SAMPLE / "pages" / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def html_expected() -> dict:
    return json.loads((SAMPLE / "html" / "expected.json").read_text(encoding="utf-8"))


def _check_common(rows: list[dict], fields: set[str], prefix: str) -> None:
    for n, row in enumerate(rows, 1):
        where = f"{prefix}:{n}"
        assert set(row) == fields, f"{where}: fields {sorted(row)}; expected {sorted(fields)}"
        assert row["id"] == f"sample-{prefix[0]}-{n}", f"{where}: id {row['id']!r}"
        assert row["source"] == "mlnews_sample", where
        assert row["label"] in TAXONOMY, f"{where}: label {row['label']!r} not in {TAXONOMY}"
        assert row["label_origin"] == "gold", where
        assert row["lang"] in LANGS, f"{where}: lang {row['lang']!r}"
        assert isinstance(row["title"], str) and row["title"] == row["title"].strip() != "", where


def test_headlines_schema_and_labels(headlines):
    _check_common(headlines, HEADLINE_FIELDS, "headlines")
    assert all(row["published"] is None for row in headlines)


def test_headline_lengths_vary_within_4_to_20_words(headlines):
    lengths = [len(row["title"].split()) for row in headlines]
    assert min(lengths) >= 4 and max(lengths) <= 20, (min(lengths), max(lengths))
    assert len(set(lengths)) >= 8, "headline lengths should vary"


def test_headline_counts_per_label_and_lang(headlines):
    counts = collections.Counter((row["label"], row["lang"]) for row in headlines)
    for label in TAXONOMY:
        for lang in LANGS:
            assert counts[label, lang] >= MIN_HEADLINES_PER_CELL, (label, lang, counts[label, lang])


@pytest.mark.parametrize("name", ["headlines.jsonl", "articles.jsonl"])
def test_lang_field_matches_letter_cues(name):
    problems = []
    for n, row in enumerate(_read_jsonl(SAMPLE / name), 1):
        text = " ".join(row.get(k) or "" for k in ("title", "lead", "text"))
        why = _lang_problem(text, row["lang"])
        if why:
            problems.append(f"{name}:{n}: {why}: {row['title']!r}")
    assert not problems, "\n".join(problems)


def test_no_duplicate_normalised_titles_anywhere(headlines, articles, pages_expected, html_expected):
    """Headlines, article titles, page titles and sidebar headlines are all distinct."""
    seen: dict[str, str] = {}
    titles = [(f"headlines:{r['id']}", r["title"]) for r in headlines]
    titles += [(f"articles:{r['id']}", r["title"]) for r in articles]
    for name, page in {**pages_expected, **html_expected}.items():
        titles.append((name, page["title"]))
        titles += [(f"{name} sidebar", h["text"]) for h in page.get("headlines", [])]
    for where, title in titles:
        key = normalise_for_match(title)
        assert key not in seen, f"{where} duplicates {seen[key]}: {title!r}"
        seen[key] = where


def test_no_near_duplicate_titles(headlines, articles):
    """No two titles share half or more of their content words (words longer than 3 letters)."""
    keyed = [(r["id"], {w for w in normalise_for_match(r["title"]).split() if len(w) > 3})
             for r in headlines + articles]
    close = []
    for i, (id_a, a) in enumerate(keyed):
        for id_b, b in keyed[i + 1:]:
            if a and b and len(a & b) / len(a | b) >= 0.5:
                close.append(f"{id_a} ~ {id_b}: {sorted(a & b)}")
    assert not close, "\n".join(close)


def test_articles_schema_and_coverage(articles):
    _check_common(articles, ARTICLE_FIELDS, "articles")
    for row in articles:
        assert row["url"] is None
        assert re.fullmatch(r"2026-11-\d\d(T\d\d:\d\d)?", row["published"]), row["published"]
    cells = {(row["label"], row["lang"]) for row in articles}
    missing = [(label, lang) for label in TAXONOMY for lang in LANGS if (label, lang) not in cells]
    assert not missing, f"labels without an article: {missing}"
    per_lang = collections.Counter(row["lang"] for row in articles)
    assert per_lang["ru"] >= 14 and per_lang["uk"] >= 14, per_lang


def test_articles_lead_and_body_shape(articles):
    for row in articles:
        where = row["id"]
        lead_sents = [s.text for s in razdel.sentenize(row["lead"])]
        assert len(lead_sents) == 1, f"{where}: lead must be one sentence, got {len(lead_sents)}"
        paragraphs = row["text"].split("\n")
        assert 2 <= len(paragraphs) <= 4, f"{where}: {len(paragraphs)} paragraphs"
        assert all(p.strip() == p != "" for p in paragraphs), f"{where}: empty or padded paragraph"
        sents = [s.text for s in razdel.sentenize(row["text"])]
        assert 4 <= len(sents) <= 8, f"{where}: {len(sents)} sentences"
        # The lead summarises; the body must not simply open by repeating it.
        lead_words, first_words = _words(row["lead"]), _words(sents[0])
        overlap = len(lead_words & first_words) / len(lead_words | first_words)
        assert overlap < 0.5, f"{where}: first body sentence repeats the lead ({overlap:.2f})"
        assert row["lead"] not in row["text"] and row["title"] not in row["text"], where


def _decode_sidebar(lines: list[str]) -> list[dict]:
    """Reference decoding of the seed layout: a headline's HH:MM is glued to the next line."""
    items: list[dict] = []
    for line in lines:
        match = TIME.match(line)
        if match and items:
            assert items[-1]["time"] is None, f"two times for {items[-1]['text']!r}"
            items[-1]["time"] = match.group(0)
            line = line[match.end():]
        if line:
            items.append({"text": line, "time": None})
    return items


def test_reference_decoding_matches_the_seed_layout(seed_page):
    """Our reading of the format agrees with the real seed dump: last sidebar item has no time."""
    lines = seed_page.read_text(encoding="utf-8").splitlines()
    start = lines.index("Последние новости") + 1
    items = _decode_sidebar(lines[start:])
    assert len(items) >= 4
    assert all(item["time"] for item in items[:-1]) and items[-1]["time"] is None


def test_pages_match_expected(pages_expected):
    assert len(pages_expected) >= 4
    for name, exp in pages_expected.items():
        path = SAMPLE / "pages" / name
        assert path.is_file(), f"{name} listed in expected.json but missing"
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        if exp["line_endings"] == "crlf":
            assert text.count("\r\n") == text.count("\n") > 0, f"{name}: not consistently CRLF"
        else:
            assert "\r" not in text, f"{name}: unexpected CR"
        lines = text.splitlines()
        assert lines[0] == exp["title"] and lines[1] == exp["lead"], name
        heading = exp["sidebar_heading"]
        if heading is None:
            body, sidebar = lines[2:], []
            assert not set(lines) & set().union(*SIDEBAR_HEADINGS.values()), name
        else:
            assert heading in SIDEBAR_HEADINGS[exp["lang"]], f"{name}: heading {heading!r}"
            cut = lines.index(heading)
            body, sidebar = lines[2:cut], lines[cut + 1:]
        assert len(body) == exp["n_paragraphs"], f"{name}: {len(body)} paragraphs"
        assert body[0] == exp["first_paragraph"] and body[-1] == exp["last_paragraph"], name
        assert _decode_sidebar(sidebar) == exp["headlines"], f"{name}: sidebar differs"
        assert _lang_problem(text, exp["lang"]) is None, f"{name}: {_lang_problem(text, exp['lang'])}"
        assert name.startswith(exp["lang"] + "_"), name


def test_pages_cover_the_layout_variants(pages_expected):
    pages = SAMPLE / "pages"
    with_sidebar = [e for e in pages_expected.values() if e["headlines"]]
    langs = collections.Counter(e["lang"] for e in with_sidebar)
    assert langs["ru"] >= 2 and langs["uk"] >= 2, langs
    assert all(e["headlines"][-1]["time"] is None for e in with_sidebar)
    assert all(len(e["headlines"]) >= 4 for e in with_sidebar)
    assert any(e["line_endings"] == "crlf" for e in pages_expected.values())
    assert any(e["sidebar_heading"] is None for e in pages_expected.values())
    assert any(e["sidebar_heading"] in {"Главное", "Головне"} for e in pages_expected.values())
    lone_time = [n for n in pages_expected if any(TIME.fullmatch(line) for line in
                 (pages / n).read_text(encoding="utf-8").splitlines())]
    assert lone_time, "no page has a time alone on its own line"
    assert sorted(p.name for p in pages.glob("*.txt")) == sorted(pages_expected)


def test_html_pages_match_expected(html_expected):
    assert set(html_expected) == {"ru_01.html", "uk_01.html"}
    for name, exp in html_expected.items():
        html = (SAMPLE / "html" / name).read_text(encoding="utf-8")
        assert html.lstrip().lower().startswith("<!doctype html>"), name
        assert f"<h1>{exp['title']}</h1>" in html and exp["title"] in html.split("</title>")[0], name
        assert f'<meta name="description" content="{exp["lead"]}">' in html, name
        article = html.split("<article>")[1].split("</article>")[0]
        assert f'<p class="lead">{exp["lead"]}</p>' in article, name
        paragraphs = re.findall(r"<p>(.*?)</p>", article)
        assert len(paragraphs) == exp["n_paragraphs"], name
        assert paragraphs[0] == exp["first_paragraph"] and paragraphs[-1] == exp["last_paragraph"]
        assert "<nav" in html and "<footer>" in html, f"{name}: no boilerplate to strip"
        assert _lang_problem(article, exp["lang"]) is None, name


def test_readme_counts_match_the_files(headlines, articles):
    """The counts table in data/README.md is the real one (regenerate it when the sample changes)."""
    text = README.read_text(encoding="utf-8")
    h = collections.Counter((r["label"], r["lang"]) for r in headlines)
    a = collections.Counter((r["label"], r["lang"]) for r in articles)
    for label in TAXONOMY:
        row = f"| {label} | {h[label, 'ru']} | {h[label, 'uk']} | {a[label, 'ru']} | {a[label, 'uk']} |"
        assert row in text, f"data/README.md lacks the row {row!r}"
    total = f"| **total** | {sum(v for (_, g), v in h.items() if g == 'ru')} | " \
            f"{sum(v for (_, g), v in h.items() if g == 'uk')} | " \
            f"{sum(v for (_, g), v in a.items() if g == 'ru')} | {sum(v for (_, g), v in a.items() if g == 'uk')} |"
    assert total in text, f"data/README.md lacks the row {total!r}"
