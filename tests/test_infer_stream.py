"""Streaming readers, bounded length-sorted batching and writers of mlnews.infer.stream."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlnews.errors import InputError
from mlnews.infer.stream import RecordWriter, predict_in_order
from mlnews.ingest.inputs import BadRow, Columns, ReadStats, Row, iter_rows, resolve_inputs


def _split(items):
    good = [r for r in items if isinstance(r, Row)]
    bad = [r for r in items if isinstance(r, BadRow)]
    return good, bad


def test_jsonl_good_and_malformed_rows_are_all_accounted(tmp_path: Path):
    path = tmp_path / "in.jsonl"
    lines = [
        b'\xef\xbb\xbf{"text": "\xd0\x9a\xd1\x83\xd1\x80\xd1\x81 \xd1\x80\xd1\x83\xd0\xb1\xd0\xbb\xd1\x8f", "id": 10}',  # BOM + Cyrillic
        b"",  # blank: not a row
        b"{not json",
        b"[1, 2]",
        b'{"title": "no text field"}',
        b'{"text": "   "}',
        b'{"text": 5}',
        b'{"text": "bad \xff byte"}',
        b'{"text": "last   row\\u00a0here", "lead": "a lead"}',
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    stats = ReadStats()
    good, bad = _split(list(iter_rows([str(path)], Columns(id="id", lead="lead"), stats)))
    assert [r.text for r in good] == ["Курс рубля", "last row here"]
    assert [r.id for r in good] == ["10", f"{path}:9"]  # id field when present, else file:line
    assert good[1].lead == "a lead"
    assert [b.where for b in bad] == [f"{path}:{n}" for n in (3, 4, 5, 6, 7, 8)]
    reasons = [b.reason for b in bad]
    assert reasons[0].startswith("malformed JSON")
    assert "expected a JSON object" in reasons[1]
    assert reasons[2] == "missing field 'text'"
    assert reasons[3] == "empty field 'text'"
    assert "expected a string" in reasons[4]
    assert reasons[5] == "not valid UTF-8"
    assert stats.blank_lines == 1


def test_csv_rows_with_quotes_newlines_and_bad_rows(tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_bytes(
        "id,headline,extra\n"
        'a1,"Матч, который ""запомнят""",x\n'
        'a2,"две\nстроки",y\n'
        "a3,only two\n"
        "a4,,z\n".encode()
        + b"a5,caf\xe9,z\n"
        + "a6,Последняя,z\n".encode()
    )
    good, bad = _split(list(iter_rows([str(path)], Columns(text="headline", id="id"))))
    assert [(r.id, r.text) for r in good] == [("a1", 'Матч, который "запомнят"'), ("a2", "две\nстроки"), ("a6", "Последняя")]
    assert [(b.where, b.reason) for b in bad] == [
        (f"{path}:5", "row has 2 fields, expected 3 (id, headline, extra)"),
        (f"{path}:6", "empty field 'headline'"),
        (f"{path}:7", "not valid UTF-8"),
    ]


def test_csv_without_the_text_column_is_one_clear_error(tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_text("id,title\n1,x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"in\.csv:1: header has no column 'text'; columns are \['id', 'title'\]"):
        list(iter_rows([str(path)]))


def test_tsv_and_txt(tmp_path: Path):
    tsv = tmp_path / "in.tsv"
    tsv.write_text("text\tid\nпервый\t1\nвторой\t2\n", encoding="utf-8")
    txt = tmp_path / "in.txt"
    txt.write_text("одна строка\n\n  другая  строка \n", encoding="utf-8")
    stats = ReadStats()
    rows = list(iter_rows([str(tsv), str(txt)], Columns(id="id"), stats))
    assert [(r.id, r.text) for r in rows] == [("1", "первый"), ("2", "второй"), (f"{txt}:1", "одна строка"), (f"{txt}:3", "другая строка")]
    assert stats.blank_lines == 1


@pytest.mark.parametrize(
    "data, expected",
    [
        (b'\n{"text": "json row"}\n{"text": "second"}\n', ["json row", "second"]),
        ("просто строка\nещё одна\n".encode(), ["просто строка", "ещё одна"]),
    ],
)
def test_stdin_is_sniffed_as_jsonl_or_text(data: bytes, expected: list[str]):
    rows = list(iter_rows(["-"], stdin=io.BufferedReader(io.BytesIO(data))))
    assert [r.text for r in rows] == expected
    assert all(r.id.startswith("<stdin>:") for r in rows)


def test_resolve_inputs_checks_paths_and_formats(tmp_path: Path):
    (tmp_path / "x.md").write_bytes(b"")
    with pytest.raises(InputError, match="cannot tell the format"):
        resolve_inputs([str(tmp_path / "x.md")])
    with pytest.raises(InputError, match="no such file or directory"):
        resolve_inputs([str(tmp_path / "missing.jsonl")])
    with pytest.raises(InputError, match="--format 'xml'"):
        resolve_inputs(["-"], "xml")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="directory has no page files or shards"):
        resolve_inputs([str(empty)])
    pages = tmp_path / "pages"
    (pages / "sub").mkdir(parents=True)
    for name in ("b.txt", "a.html", "sub/c", ".hidden.txt", "expected.json"):
        (pages / name).write_text("x", encoding="utf-8")
    (pages / ".git").mkdir()
    (pages / ".git" / "HEAD").write_text("x", encoding="utf-8")
    ignored: list[str] = []
    got = resolve_inputs([str(pages)], ignored=ignored)
    assert got == [(str(pages / "a.html"), "page"), (str(pages / "b.txt"), "page"), (str(pages / "sub" / "c"), "page")]
    assert ignored == [str(pages / "expected.json")]  # reported by the caller, not silently dropped
    forced = resolve_inputs([str(pages)], "txt")
    assert (str(pages / "expected.json"), "txt") in forced
    # --format applies to explicit files regardless of extension
    assert resolve_inputs([str(tmp_path / "x.md")], "txt") == [(str(tmp_path / "x.md"), "txt")]


def _rows(texts: list[str]) -> list[Row]:
    return [Row(id=str(i), text=t, where=f"f:{i}") for i, t in enumerate(texts)]


def test_predict_in_order_sorts_batches_by_length_and_restores_order():
    texts = ["a" * n for n in (5, 1, 9, 3, 7, 2, 8, 4, 6, 10)]
    batches: list[list[int]] = []

    def predict(batch: list[Row]) -> list[int]:
        batches.append([len(r.text) for r in batch])
        return [len(r.text) * 10 for r in batch]

    out = list(predict_in_order(_rows(texts), predict, batch_size=3, window=10))
    assert [r.text for r, _ in out] == texts
    assert [p for _, p in out] == [len(t) * 10 for t in texts]
    assert batches == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]


def test_predict_in_order_holds_a_bounded_window():
    consumed = 0
    emitted = 0
    peak = 0

    def source():
        nonlocal consumed
        for i in range(1000):
            consumed += 1
            yield Row(id=str(i), text="x" * (i % 17 + 1), where="")

    for _row, _pred in predict_in_order(source(), lambda b: [0] * len(b), batch_size=8, window=64):
        emitted += 1
        peak = max(peak, consumed - emitted)
    assert emitted == 1000
    assert peak < 64


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(min_size=1, max_size=20), max_size=80),
    batch_size=st.integers(1, 9),
    window=st.integers(1, 30),
)
def test_predict_in_order_property(texts, batch_size, window):
    seen: list[str] = []

    def predict(batch):
        assert len(batch) <= batch_size
        seen.extend(r.id for r in batch)
        return [r.text[::-1] for r in batch]

    out = list(predict_in_order(_rows(texts), predict, batch_size=batch_size, window=window))
    assert [r.id for r, _ in out] == [str(i) for i in range(len(texts))]
    assert [p for _, p in out] == [t[::-1] for t in texts]
    assert sorted(seen, key=int) == [str(i) for i in range(len(texts))]  # each row predicted exactly once


def test_record_writer_csv_and_jsonl(tmp_path: Path):
    fields = ["id", "label", "score", "top_k"]
    recs = [
        {"id": "a", "label": "спорт", "score": 0.9, "top_k": [{"label": "спорт", "score": 0.9}]},
        {"id": "b", "label": None, "score": 0.2, "top_k": []},
    ]
    with RecordWriter(str(tmp_path / "o.csv"), fields) as w:
        for r in recs:
            w.write(r)
    got = list(csv.DictReader(open(tmp_path / "o.csv", encoding="utf-8")))
    assert got[0]["label"] == "спорт" and json.loads(got[0]["top_k"]) == recs[0]["top_k"]
    assert got[1]["label"] == ""  # None -> empty cell
    with RecordWriter(str(tmp_path / "o.jsonl"), fields) as w:
        for r in recs:
            w.write(r)
    assert [json.loads(line) for line in open(tmp_path / "o.jsonl", encoding="utf-8")] == recs


def test_record_writer_is_atomic(tmp_path: Path):
    out = tmp_path / "o.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with RecordWriter(str(out), ["id"]) as w:
            w.write({"id": "half"})
            raise RuntimeError("boom")
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["o.jsonl"]
