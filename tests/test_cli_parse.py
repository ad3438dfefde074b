"""`mlnews parse` through the real entry point (mlnews.cli.main), in process."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from mlnews.cli import main

FIX = Path(__file__).parent / "fixtures" / "ingest"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_one_page_prints_one_pretty_object(capsys, seed_page):
    code, out, err = run(capsys, "parse", str(seed_page))
    assert code == 0 and err == ""
    rec = json.loads(out)
    assert set(rec) == {"title", "lead", "paragraphs", "headlines", "lang", "source"}
    assert out.startswith("{\n  ")  # pretty printed
    assert "Путин" in out  # ensure_ascii=False
    assert len(rec["paragraphs"]) == 10 and rec["lang"] == "ru"
    assert [h["time"] for h in rec["headlines"]] == ["12:34", "12:01", "11:24", "10:53", "09:07", None]
    assert all(set(h) == {"text", "time", "lang"} for h in rec["headlines"])


def test_several_pages_print_json_lines(capsys):
    code, out, err = run(capsys, "parse", str(FIX / "page_uk.txt"), str(FIX / "article_lead.html"))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    recs = [json.loads(line) for line in lines]
    assert [r["lang"] for r in recs] == ["uk", "ru"]
    assert len(recs[0]["headlines"]) == 4 and recs[1]["headlines"] == []
    assert "parsed 2 of 2 pages, 0 failed" in err


def test_out_file_written_atomically(capsys, tmp_path):
    out_file = tmp_path / "sub" / "out.jsonl"
    code, out, err = run(capsys, "parse", str(FIX / "page_uk.txt"), "-o", str(out_file))
    assert code == 0 and out == ""
    recs = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 1 and recs[0]["title"].startswith("У Львові")
    assert [p.name for p in out_file.parent.iterdir()] == ["out.jsonl"]  # no temp file left behind


def test_bad_pages_are_reported_and_good_ones_still_written(capsys, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "img.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    out_file = tmp_path / "out.jsonl"
    args = [str(FIX / "page_uk.txt"), str(empty), str(binary), str(tmp_path), str(tmp_path / "missing.txt")]
    code, out, err = run(capsys, "parse", *args, str(FIX / "page_cp1251.txt"), "-o", str(out_file))
    assert code == 1
    assert len(out_file.read_text(encoding="utf-8").splitlines()) == 2
    errors = [line for line in err.splitlines() if line.startswith("mlnews: error:")]
    assert len(errors) == 4
    assert f"{empty}: empty file" in err and f"{binary}: binary file" in err
    assert f"{tmp_path}: is a directory" in err and "missing.txt: no such file" in err
    assert "mlnews: note:" in err and "decoded as cp1251" in err
    assert "parsed 2 of 6 pages, 4 failed" in err
    assert "Traceback" not in err


def test_single_bad_page_exits_nonzero_with_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "parse", str(tmp_path / "nope.txt"))
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "nope.txt: no such file" in err


def test_nothing_parsed_leaves_existing_output_alone(capsys, tmp_path):
    out_file = tmp_path / "out.jsonl"
    out_file.write_text("previous\n", encoding="utf-8")
    code, _, err = run(capsys, "parse", str(tmp_path / "nope.txt"), "-o", str(out_file))
    assert code == 1 and out_file.read_text(encoding="utf-8") == "previous\n"
    assert "left unchanged" in err


def test_ten_megabyte_line_is_rejected_with_one_line(capsys, tmp_path):
    f = tmp_path / "huge.txt"
    f.write_bytes(b"a" * 10_500_000)
    code, out, err = run(capsys, "parse", str(f))
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "too long for a title" in err


def test_stdin_and_format_option(capsys, monkeypatch):
    html = (FIX / "article_lead.html").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(html)))
    code, out, _ = run(capsys, "parse", "-")
    assert code == 0 and json.loads(out)["source"] == "<stdin>"
    text = "Заголовок\nВторая строка\nТретья строка\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code, out, _ = run(capsys, "parse", "-", "--format", "text")
    assert code == 0 and json.loads(out)["lead"] is None
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code, out, _ = run(capsys, "parse", "-")  # auto: text is a page dump, line 2 is the lead
    assert code == 0 and json.loads(out)["lead"] == "Вторая строка"


def test_bad_option_and_config_are_usage_errors(capsys, tmp_path):
    code, _, err = run(capsys, "parse", "--format", "pdf", str(FIX / "plain.txt"))
    assert code == 2 and "Traceback" not in err and "pdf" in err
    bad_cfg = tmp_path / "page.yaml"
    bad_cfg.write_text("max_title_chars: many\n", encoding="utf-8")
    code, _, err = run(capsys, "parse", "-c", str(bad_cfg), str(FIX / "plain.txt"))
    assert code == 2 and err.startswith("mlnews: error:") and "max_title_chars: expected an integer" in err


def test_config_option_is_applied(capsys, tmp_path):
    cfg = tmp_path / "page.yaml"
    cfg.write_text("sidebar_headings: [Останні новини]\nmax_title_chars: 20\n", encoding="utf-8")
    code, _, err = run(capsys, "parse", "-c", str(cfg), str(FIX / "page_uk.txt"))
    assert code == 1 and "max_title_chars=20" in err


def test_help_has_example(capsys):
    code, out, _ = run(capsys, "parse", "--help")
    assert code == 0 and "Example" in out and "mlnews parse" in out and "--out" in out


def test_bundled_sample_pages_match_their_expectations(capsys, repo):
    """data/sample/pages ships expected records (written by the sample's author)."""
    folder = repo / "data" / "sample" / "pages"
    if not (folder / "expected.json").is_file():
        pytest.skip("data/sample/pages/expected.json is absent")
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    code, out, _ = run(capsys, "parse", *[str(folder / name) for name in expected])
    assert code == 0
    for (name, want), line in zip(expected.items(), out.splitlines()):
        rec = json.loads(line)
        assert rec["title"] == want["title"] and rec["lead"] == want["lead"] and rec["lang"] == want["lang"], name
        assert len(rec["paragraphs"]) == want["n_paragraphs"], name
        got = [{"text": h["text"], "time": h["time"]} for h in rec["headlines"]]
        assert got == want.get("headlines", []), name
