"""JSONL / CSV corpus reading through column mappings."""

from __future__ import annotations

import json

import pytest

from mlnews.errors import ConfigError, InputError
from mlnews.ingest.corpus import ColumnMapping, iter_corpus, load_mappings
from mlnews.types import Article, Headline


def _jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                    encoding="utf-8")
    return path


def test_jsonl_articles_and_headlines_with_constants(tmp_path):
    f = _jsonl(tmp_path / "c.jsonl", [
        {"t": "Заголовок один", "body": "Первый абзац.\nВторой абзац.", "lbl": "Спорт"},
        {"t": "Только заголовок", "body": "", "lbl": None},
        "",
        {"t": "Ще один заголовок", "body": None, "lbl": "x", "src": "own"},
    ])
    m = ColumnMapping(title="t", text="body", label="lbl", source="src", constants={"source": "mine", "lang": "ru"})
    items = list(iter_corpus(f, m))
    assert [n for n, _ in items] == [1, 2, 4]  # line numbers, blank line skipped
    (_, a), (_, h1), (_, h2) = items
    assert isinstance(a, Article) and a.paragraphs == ["Первый абзац.", "Второй абзац."]
    assert a.label == "Спорт" and a.source == "mine" and a.lang == "ru"
    assert isinstance(h1, Headline) and h1.text == "Только заголовок" and h1.label is None
    assert h2.source == "own"  # a column value wins over the constant


def test_csv_and_tsv(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text('title,text,label\n"Курс, рубля","Абзац ""в кавычках"".",economy\nЗаголовок,,\n', encoding="utf-8")
    items = list(iter_corpus(f, ColumnMapping(text="text", label="label")))
    assert [n for n, _ in items] == [2, 3]
    assert items[0][1].title == "Курс, рубля" and items[0][1].paragraphs == ['Абзац "в кавычках".']
    assert isinstance(items[1][1], Headline) and items[1][1].label is None
    t = tmp_path / "c.tsv"
    t.write_text("title\tlabel\nОдин\tsports\n", encoding="utf-8")
    (_, h), = list(iter_corpus(t, ColumnMapping(label="label")))
    assert h.text == "Один" and h.label == "sports"


def test_malformed_rows_strict_and_counted(tmp_path):
    f = _jsonl(tmp_path / "bad.jsonl", [{"title": "Хороший"}, "{not json", {"name": "нет заголовка"},
                                        {"title": ["список"]}, {"title": "Тоже хороший"}])
    m = ColumnMapping()
    with pytest.raises(InputError, match=r"bad\.jsonl:2: malformed JSON"):
        list(iter_corpus(f, m))
    items = list(iter_corpus(f, m, strict=False))
    errors = [(n, str(e)) for n, e in items if isinstance(e, InputError)]
    good = [x.text for _, x in items if not isinstance(x, InputError)]
    assert good == ["Хороший", "Тоже хороший"]
    assert [n for n, _ in errors] == [2, 3, 4]
    assert "missing column 'title'" in errors[1][1] and "should be a string" in errors[2][1]


def test_csv_wrong_field_count_and_missing_header_column(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("title,label\nА,b\nБ,c,extra\n", encoding="utf-8")
    items = list(iter_corpus(f, ColumnMapping(label="label"), strict=False))
    assert isinstance(items[1][1], InputError) and "c.csv:3: row has 3 fields, expected 2" in str(items[1][1])
    with pytest.raises(InputError, match=r"c\.csv:1: header has no column 'text'"):
        list(iter_corpus(f, ColumnMapping(text="text")))


def test_bad_paths(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        list(iter_corpus(tmp_path, ColumnMapping()))
    with pytest.raises(InputError, match="file not found"):
        list(iter_corpus(tmp_path / "nope.jsonl", ColumnMapping()))
    (tmp_path / "x.txt").write_text("a\n")
    with pytest.raises(InputError, match="expected .jsonl, .csv or .tsv"):
        list(iter_corpus(tmp_path / "x.txt", ColumnMapping()))


@pytest.mark.parametrize(("text", "message"), [
    ("mappings:\n  a:\n    titel: t\n", r"mappings\.a\.titel: unknown key"),
    ("mappings:\n  a:\n    constants: {colour: red}\n", r"constants\.colour: unknown field"),
])
def test_mapping_config_errors(tmp_path, text, message):
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_mappings(tmp_path / "m.yaml")


def test_shipped_mapping_reads_every_shared_file(repo, shared_data):
    cfg = load_mappings(repo / "configs/ingest/shared_data.yaml")
    import yaml

    files = yaml.safe_load((repo / "configs/ingest/shared_data.yaml").read_text(encoding="utf-8"))["files"]
    on_disk = {p.name for p in shared_data.glob("*.jsonl")}
    assert on_disk <= set(files), "every shared file needs a mapping"
    for name in sorted(on_disk):
        items = [x for _, x in iter_corpus(shared_data / name, cfg[files[name]])]
        expected = Headline if name.startswith("headlines_") else Article
        assert items and all(isinstance(x, expected) for x in items), name
        assert all(x.lang in ("ru", "uk") and x.source and x.id for x in items)


def test_lenient_reading_accounts_for_every_line(tmp_path_factory):
    """Property: with strict=False every non-blank line yields exactly one item or one InputError."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    values = st.one_of(st.none(), st.text(max_size=20), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2))
    records = st.dictionaries(st.sampled_from(["title", "text", "label", "lang", "x"]), values, max_size=5)
    lines = st.lists(st.one_of(records.map(lambda r: json.dumps(r, ensure_ascii=False)),
                               st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=15)),
                     max_size=12)
    folder = tmp_path_factory.mktemp("prop")

    @settings(max_examples=60, deadline=None)
    @given(lines)
    def check(raw_lines):
        raw_lines = [ln.replace("\n", " ").replace("\r", " ") for ln in raw_lines]
        f = folder / "p.jsonl"
        f.write_text("\n".join(raw_lines) + "\n", encoding="utf-8")
        # what Python itself sees as lines: splitting on \n only, like the reader
        nonblank = [ln for ln in f.read_text(encoding="utf-8").split("\n") if ln.strip()]
        out = list(iter_corpus(f, ColumnMapping(text="text", label="label", lang="lang"), strict=False))
        assert len(out) == len(nonblank)
        assert all(isinstance(x, (Article, Headline, InputError)) for _, x in out)

    check()
