"""mlnews.io: atomic writes and line-numbered JSONL reading."""

from __future__ import annotations

import json

import pytest

from mlnews.errors import InputError
from mlnews.io import atomic_dir, atomic_write, iter_jsonl, write_json


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("partial")
            raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_json_keeps_cyrillic(tmp_path):
    write_json(tmp_path / "a.json", {"t": "Київ"})
    assert "Київ" in (tmp_path / "a.json").read_text(encoding="utf-8")


def test_atomic_dir_replaces_whole_folder(tmp_path):
    out = tmp_path / "ds"
    with atomic_dir(out) as d:
        (d / "a").write_text("1")
    with atomic_dir(out) as d:
        (d / "b").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["b"]
    with pytest.raises(ValueError):
        with atomic_dir(out) as d:
            (d / "c").write_text("3")
            raise ValueError
    assert sorted(p.name for p in out.iterdir()) == ["b"]


def test_iter_jsonl_reports_line_numbers(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{bad\n[1, 2]\n{"a": 2}\n', encoding="utf-8")
    rows = list(iter_jsonl(p, strict=False))
    assert [n for n, _ in rows] == [1, 3, 4, 5]
    assert rows[0][1] == {"a": 1} and rows[3][1] == {"a": 2}
    assert isinstance(rows[1][1], InputError) and f"{p}:3" in str(rows[1][1])
    assert isinstance(rows[2][1], InputError) and "JSON object" in str(rows[2][1])
    with pytest.raises(InputError, match=":3:"):
        list(iter_jsonl(p))


def test_iter_jsonl_rejects_non_utf8_with_line(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(json.dumps({"a": 1}).encode() + b"\n" + "{\"a\": \"тест\"}".encode("cp1251") + b"\n")
    with pytest.raises(InputError, match="UTF-8"):
        list(iter_jsonl(p))


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {})
        with atomic_dir(tmp_path / "d") as d:
            (d / "x").write_text("1")
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
        assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
    finally:
        os.umask(umask)
