"""mlnews.io: atomic writes and line-numbered JSONL reading."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlnews.errors import InputError
from mlnews.io import atomic_dir, atomic_write, write_json


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


# --- hostile input and faults (issue #15) --------------------------------------------------------


def test_loads_json_turns_lone_surrogates_into_replacement_characters():
    from mlnews.io import loads_json

    assert loads_json('{"text": "Курс \\ud800 упал", "k\\udfff": ["\\uDC80"]}') == {
        "text": "Курс \ufffd упал", "k\ufffd": ["\ufffd"]}
    assert loads_json('{"t": "\\ud83d\\ude00 \\\\ud800"}') == {"t": "\U0001f600 \\ud800"}  # a pair; an escaped backslash
    with pytest.raises(ValueError, match="nested too deeply"):
        loads_json("[" * 100_000 + "]" * 100_000)


def test_atomic_write_writes_a_lone_surrogate_as_replacement_character(tmp_path):
    with atomic_write(tmp_path / "o.jsonl") as fh:
        fh.write("Курс \ud800 упал\n")
    assert (tmp_path / "o.jsonl").read_text(encoding="utf-8") == "Курс \ufffd упал\n"


@pytest.mark.parametrize("where", ["/proc/out.jsonl", "FILE/out.jsonl", "FILE/sub/out.jsonl"])
def test_unwritable_path_is_a_one_line_error(tmp_path, where):
    from mlnews.io import check_writable

    (tmp_path / "FILE").write_text("x", encoding="utf-8")
    target = Path(where) if where.startswith("/") else tmp_path / where
    for attempt in (lambda: check_writable(target), lambda: atomic_write(target).__enter__(),
                    lambda: atomic_dir(target).__enter__()):
        with pytest.raises(InputError, match=rf"^{re.escape(str(target))}: cannot write here \(.+\); expected ") as exc:
            attempt()
        assert "\n" not in str(exc.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]


def _killed_writer(code: str, cwd: Path) -> None:
    """Run ``code`` (which writes through mlnews.io and then sleeps) in a child, then kill -9 it."""
    proc = subprocess.Popen([sys.executable, "-c", code + "\nprint('ready', flush=True)\ntime.sleep(60)"],
                            cwd=cwd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def test_temps_of_a_killed_run_are_swept_by_the_next_write(tmp_path):
    _killed_writer(
        "import time\nfrom mlnews.io import atomic_write, atomic_dir\n"
        "w = atomic_write('out.jsonl'); w.__enter__().write('partial')\n"
        "d = atomic_dir('ds'); (d.__enter__() / 'part').write_text('x')\n", tmp_path)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(re.fullmatch(r"\.(out\.jsonl|ds)\.p\d+h[0-9a-f]{4}\.\w+\.tmp", n) for n in left)
    (tmp_path / ".other.jsonl.p1h0000.abc.tmp").write_text("not ours: another target")
    with atomic_write(tmp_path / "out.jsonl") as fh:
        fh.write("done")
    with atomic_dir(tmp_path / "ds") as d:
        (d / "part").write_text("y")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.jsonl.p1h0000.abc.tmp", "ds", "out.jsonl"]


def test_temps_of_a_live_process_are_kept(tmp_path):
    from mlnews.io import is_stale_temp, sweep_stale_temps

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = tmp_path / f".out.jsonl.p{proc.pid}h{_host_tag()}.x1.tmp"
        mine.write_text("in flight")
        assert not is_stale_temp(mine, "out.jsonl") and sweep_stale_temps(tmp_path / "out.jsonl") == []
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert is_stale_temp(mine, "out.jsonl") and sweep_stale_temps(tmp_path / "out.jsonl") == [mine]


def test_legacy_temps_older_than_the_process_are_swept(tmp_path):
    old = tmp_path / ".out.jsonl.7rymtqzb.tmp"  # named by mlnews before temps carried their owner
    old.write_text("x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    with atomic_write(tmp_path / "out.jsonl") as fh:
        fh.write("ok")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_temp_dir_sweeps_killed_runs_scratch(tmp_path):
    from mlnews.io import temp_dir

    _killed_writer("import time\nfrom mlnews.io import temp_dir\nt = temp_dir('mlnews-build', dir='.'); t.__enter__()", tmp_path)
    assert len(list(tmp_path.iterdir())) == 1
    with temp_dir("mlnews-build", dir=tmp_path) as scratch:
        assert sorted(tmp_path.iterdir()) == [scratch]
    assert list(tmp_path.iterdir()) == []


def _host_tag() -> str:
    from mlnews import io as mio

    return mio._HOST_TAG
