"""The one input reader: one directory rule, globs, Parquet, and the same inputs for every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlnews.errors import InputError
from mlnews.ingest.inputs import BadRow, Columns, ReadStats, Row, iter_records, iter_rows, resolve_inputs


def _jsonl(path: Path, recs: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    return path


def test_a_directory_of_pages_is_searched_recursively_and_reports_other_files(tmp_path: Path):
    d = tmp_path / "pages"
    (d / "sub").mkdir(parents=True)
    for name in ["b.txt", "a.HTML", "c.xhtml", ".hidden.txt", "_SUCCESS", "notes.md", "sub/x.txt", "expected.json"]:
        (d / name).write_text("Заголовок\nТекст статьи.", encoding="utf-8")
    ignored: list[str] = []
    got = resolve_inputs([str(d)], ignored=ignored)
    assert got == [(str(d / n), "page") for n in ("a.HTML", "b.txt", "c.xhtml", "sub/x.txt")]
    assert ignored == [str(d / "expected.json"), str(d / "notes.md")]  # reported by the caller, never silently dropped


def test_a_directory_without_pages_is_read_as_record_shards(tmp_path: Path):
    d = tmp_path / "shards"
    _jsonl(d / "part-0.jsonl", [{"text": "a"}])
    _jsonl(d / "sub" / "part-1.json", [{"text": "b"}])
    (d / "_SUCCESS").write_text("")
    (d / "README.md").write_text("x")
    ignored: list[str] = []
    assert resolve_inputs([str(d)], ignored=ignored) == [(str(d / "part-0.jsonl"), "jsonl"),
                                                         (str(d / "sub" / "part-1.json"), "jsonl")]
    assert ignored == [str(d / "README.md")]


def test_globs_expand_sorted_and_an_empty_glob_is_an_error(tmp_path: Path):
    for n in (2, 1):
        _jsonl(tmp_path / f"s{n}.jsonl", [{"text": f"t{n}"}])
    got = resolve_inputs([str(tmp_path / "s*.jsonl")])
    assert got == [(str(tmp_path / "s1.jsonl"), "jsonl"), (str(tmp_path / "s2.jsonl"), "jsonl")]
    with pytest.raises(InputError, match=r"nothing\*\.jsonl: the pattern matches no file"):
        resolve_inputs([str(tmp_path / "nothing*.jsonl")])


def test_parquet_csv_and_jsonl_give_the_same_rows(tmp_path: Path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    recs = [{"id": "1", "title": "Курс рубля упал", "lang": "ru"}, {"id": "2", "title": "Динамо виграло", "lang": "uk"}]
    pq.write_table(pa.Table.from_pylist(recs), tmp_path / "x.parquet")
    (tmp_path / "x.csv").write_text("id,title,lang\n1,Курс рубля упал,ru\n2,Динамо виграло,uk\n", encoding="utf-8")
    _jsonl(tmp_path / "x.jsonl", recs)
    cols = Columns(text="title", id="id")
    for name in ("x.parquet", "x.csv", "x.jsonl"):
        rows = list(iter_rows([str(tmp_path / name)], cols))
        assert [(r.id, r.text, r.fields["lang"]) for r in rows] == [("1", "Курс рубля упал", "ru"), ("2", "Динамо виграло", "uk")]


def test_bad_rows_carry_a_reason_code_and_accounting_holds(tmp_path: Path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "ok"}\n{broken\n\n{"text": ""}\n{"text": 3}\n{"other": "x"}\n', encoding="utf-8")
    stats = ReadStats()
    items = list(iter_rows([str(path)], Columns(), stats))
    assert [type(i).__name__ for i in items] == ["Row", "BadRow", "BadRow", "BadRow", "BadRow"]
    assert [i.code for i in items if isinstance(i, BadRow)] == ["json", "empty", "type", "missing"]
    assert stats.blank_lines == 1
    assert [w for w, _ in (x for x in iter_records([str(path)]) if not isinstance(x, BadRow))] == [
        f"{path}:1", f"{path}:4", f"{path}:5", f"{path}:6"]


def test_every_command_reads_the_same_inputs(tmp_path: Path):
    """classify, classify-dist, evaluate, summariser data and pruning all go through resolve_inputs."""
    from mlnews.data.articles import article_rows
    from mlnews.evaluate.classifier import load_eval_rows
    from mlnews.infer.distributed import find_shards
    from mlnews.models.prune import iter_corpus_texts

    d = tmp_path / "shards"
    _jsonl(d / "a.jsonl", [{"text": "Курс рубля упал. Второе предложение.", "label": "economy", "title": "Рубль"}])
    _jsonl(d / "b.json", [{"text": "Динамо виграло матч.", "label": "sports", "title": "Динамо"}])
    want = [str(d / "a.jsonl"), str(d / "b.json")]
    assert [s for s, _ in resolve_inputs([str(d)])] == want
    assert [name for _, name, _ in find_shards([str(d)]).files] == want
    texts, counts = iter_corpus_texts([d], ["title", "text"])
    assert counts["files"] == 2 and "Динамо" in texts
    for f in want:
        rows, _ = load_eval_rows(Path(f), "test", label_field="label", text_field="text", lead_field="lead",
                                 body_field="body")
        assert rows[0]["label"] in ("economy", "sports")
        assert article_rows(f, "test")[0]["title"] in ("Рубль", "Динамо")
    assert isinstance(next(iter(iter_rows([str(d)]))), Row)


def test_jsonl_line_numbers_non_utf8_and_lone_surrogates(tmp_path: Path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"a": 1}\n\n{bad\n[1, 2]\n' + '{"a": "тест"}'.encode("cp1251") + b'\n{"text": "\\ud800 x"}\n')
    items = list(iter_records([str(p)]))
    assert [i.where if isinstance(i, BadRow) else i[0] for i in items] == [f"{p}:{n}" for n in (1, 3, 4, 5, 6)]
    assert [i.code for i in items if isinstance(i, BadRow)] == ["json", "json", "encoding"]
    assert items[-1][1] == {"text": "\ufffd x"}  # a lone surrogate escape becomes U+FFFD at the read boundary
