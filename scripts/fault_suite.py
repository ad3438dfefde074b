"""Fault suite (issue #15): kill -9 at random points, a hostile-page fuzzer and a bounded serve load test.

1. **Kills.** Each command runs once uninterrupted (the reference), then ``--kills`` times killed with
   SIGKILL (to its whole process group) at a random moment, each kill followed by a rerun of the same
   command (``train`` of the tiny transformer with ``--resume``). A rerun must succeed, its output
   must equal the reference's, and no temp file may remain (``*.tmp`` / ``tmp-*`` anywhere under the
   output's folder, ``mlnews-build.*`` in the run's own ``TMPDIR``). Half of the kill moments are
   uniform over the reference's wall time, half uniform after the command's first temp file appears.
   Commands: ``classify -o``, ``data build --out``, ``train`` (TF-IDF) and ``train --resume`` (a
   2-layer random BERT, checkpoints every few steps).
2. **Fuzz.** ``--pages`` page dumps with lone surrogates, control and format characters, mixed
   scripts, non-ASCII digits and glued times go through ``parse_page_text``: 0 crashes, and the
   sidebar-line invariant of tests/test_ingest_page.py holds on every page.
3. **Load.** ``mlnews serve`` (tiny TF-IDF model + lead summariser) on 127.0.0.1 gets ``--requests``
   requests from ``--concurrency`` clients within ``--duration`` seconds: /classify, /summarise,
   /health and hostile requests (surrogates, too-large and chunked bodies, bad JSON) whose expected
   status is known. Errors = wrong status, connection error or timeout. p50/p95/p99 and the server's
   RSS before and after.

    python scripts/fault_suite.py                      # full: 20 kills per command, 10,000 pages, 2,000 requests
    python scripts/fault_suite.py --short              # CI size: 2 kills per command, 1,000 pages, 200 requests
    python scripts/fault_suite.py --only fuzz,classify --kills 5 --no-report

The report goes to benchmarks/faults.md (and ``--json``); the exit code is 1 if any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the tiny-model and corpus builders the tests use
COMMANDS = ("classify", "build", "train-tfidf", "train-transformer")
TEMP_NAME = re.compile(r"(\.tmp$|^tmp-|\.old$)")


# --- kills ----------------------------------------------------------------------------------------


@dataclass
class KillCase:
    """One command of the kill test: how to run it, where its output is, how to compare outputs."""

    name: str
    argv: Callable[[bool], list[str]]  # rerun flag -> arguments after `python -m mlnews`
    output: Path
    snapshot: Callable[[Path], Any]  # output -> comparable value
    temp_glob: str  # a temp of this command (for the "after the first temp" kill moments)
    reset: Callable[[], None] = lambda: None  # remove the output
    fresh_each_kill: bool = False  # reset before each killed run (train refuses a finished folder)
    compare: Callable[[Any, Any], str | None] = lambda a, b: None if a == b else "output differs from the reference"


@dataclass
class KillResult:
    name: str
    kills: int = 0
    killed_with_temp: int = 0
    killed_after_exit: int = 0
    killed_after_manifest: int = 0  # train killed after its manifest (written last): finished, checked as is
    reruns_ok: int = 0
    reruns_without_resume: int = 0  # killed before its first checkpoint: --resume had nothing to resume
    mismatches: int = 0
    stale_files: int = 0
    failures: list[str] = field(default_factory=list)
    reference_seconds: float = 0.0
    rerun_seconds: list[float] = field(default_factory=list)


def _env(workdir: Path) -> dict[str, str]:
    tmp = workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1", "MLNEWS_CACHE": str(workdir / "cache")}


def _run(argv: list[str], env: dict, timeout: float = 900) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlnews", *argv], env=env, capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)
    return proc.returncode, proc.stderr, time.perf_counter() - t0


def stale_files(case: KillCase, env: dict) -> list[str]:
    """Temp files left anywhere under the output's folder, or scratch folders in the run's TMPDIR."""
    found = [str(p) for p in case.output.parent.rglob("*") if TEMP_NAME.search(p.name)]
    tmp = Path(env["TMPDIR"])
    found += [str(p) for p in tmp.iterdir() if p.name.startswith("mlnews-")]
    return found


def run_kills(case: KillCase, kills: int, rng: random.Random, workdir: Path) -> KillResult:
    env = _env(workdir)
    res = KillResult(case.name)
    case.reset()
    rc, err, secs = _run(case.argv(False), env)
    if rc != 0:
        res.failures.append(f"reference run failed (exit {rc}): {err.strip().splitlines()[-1:]}")
        return res
    res.reference_seconds = secs
    reference = case.snapshot(case.output)
    for i in range(kills):
        if case.fresh_each_kill:
            case.reset()
        proc = subprocess.Popen([sys.executable, "-m", "mlnews", *case.argv(False)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        t0 = time.perf_counter()
        if i % 2 == 0:
            time.sleep(rng.uniform(0.0, secs))
        else:  # after the command's first temp file appears
            while time.perf_counter() - t0 < 3 * secs and proc.poll() is None:
                if list(case.output.parent.glob(case.temp_glob)):
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, max(secs - (time.perf_counter() - t0), 0.05)))
        finished = proc.poll() is not None
        if finished:
            res.killed_after_exit += 1
        else:
            if list(case.output.parent.glob(case.temp_glob)):
                res.killed_with_temp += 1
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        if not finished and case.fresh_each_kill and (case.output / "mlnews.json").is_file():
            finished = True  # killed after writing its manifest (last): a finished model, not rerun
            res.killed_after_manifest += 1
        res.kills += 1
        if finished and case.fresh_each_kill:  # train refuses to overwrite the finished model: check it as is
            rc, err, rsecs = (0 if (case.output / "mlnews.json").is_file() else proc.returncode or 1), "", 0.0
        else:
            rc, err, rsecs = _run(case.argv(True), env)
        if rc != 0 and "no checkpoint to resume from" in err:  # what the error tells the user to do
            res.reruns_without_resume += 1
            rc, err, more = _run(case.argv(False), env)
            rsecs += more
        res.rerun_seconds.append(rsecs)
        if rc != 0:
            res.failures.append(f"kill {i + 1}: rerun failed (exit {rc}): {' | '.join(err.strip().splitlines()[-2:])}")
            case.reset()
            continue
        res.reruns_ok += 1
        why = case.compare(reference, case.snapshot(case.output))
        if why:
            res.mismatches += 1
            res.failures.append(f"kill {i + 1}: {why}")
        left = stale_files(case, env)
        if left:
            res.stale_files += len(left)
            res.failures.append(f"kill {i + 1}: stale {', '.join(left[:3])}")
            for p in left:  # start the next kill clean
                shutil.rmtree(p, ignore_errors=True) if Path(p).is_dir() else Path(p).unlink(missing_ok=True)
    return res


def _file_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _dataset_snapshot(out: Path) -> Any:
    import datasets

    datasets.disable_progress_bars()
    if not (out / "labels.json").is_file():
        return None
    snap: dict[str, Any] = {name: json.loads((out / name).read_text(encoding="utf-8"))
                            for name in ("labels.json", "stats.json")}
    for task in ("classification", "summarisation"):
        dd = datasets.load_from_disk(str(out / task))
        snap[task] = {s: dd[s].to_list() for s in sorted(dd)}
    return snap


_TIMING = re.compile(r"seconds|created|time|version", re.I)


def _drop_timing(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_timing(v) for k, v in obj.items() if not _TIMING.search(k)}
    if isinstance(obj, list):
        return [_drop_timing(v) for v in obj]
    return obj


PROBE_TEXTS = ["Курс рубля упал на бирже", "Динамо Київ перемогло Шахтар", "Госдума приняла закон",
               "Банк снизил ставку по ипотеке", "матч гол турнир", "уряд депутат закон", "нефть бюджет"]


def _model_snapshot(out: Path) -> Any:
    if not (out / "mlnews.json").is_file():
        return None
    from mlnews.infer.classifier import Classifier

    clf = Classifier.load(out)
    snap: dict[str, Any] = {"metrics": _drop_timing(json.loads((out / "metrics.json").read_text(encoding="utf-8"))),
                            "manifest": _drop_timing(json.loads((out / "mlnews.json").read_text(encoding="utf-8"))),
                            "proba": clf.predict_proba(PROBE_TEXTS).tolist()}
    if (out / "model.safetensors").is_file():
        from safetensors.numpy import load_file

        snap["weights"] = {k: v.tolist() for k, v in load_file(str(out / "model.safetensors")).items()}
    return snap


def _compare_models(a: Any, b: Any, atol: float = 1e-5) -> str | None:
    import numpy as np

    if b is None:
        return "no finished model folder (mlnews.json) after the rerun"
    for key in ("metrics", "manifest"):
        if a[key] != b[key]:
            return f"{key} differs from the reference"
    if not np.allclose(a["proba"], b["proba"], atol=atol, rtol=0):
        return f"predictions differ (max |diff| {np.abs(np.subtract(a['proba'], b['proba'])).max():.2e} > {atol})"
    for k in a.get("weights", {}):
        if not np.allclose(a["weights"][k], b["weights"][k], atol=atol, rtol=0):
            return f"weight {k} differs by more than {atol}"
    return None


def build_cases(workdir: Path, names: list[str], classify_rows: int = 40_000) -> list[KillCase]:
    import datasets
    import yaml

    datasets.disable_progress_bars()

    cases = []
    if "classify" in names:
        from infer_helpers import labelled_headlines, tiny_tfidf_dir

        d = workdir / "classify"
        d.mkdir()
        model = tiny_tfidf_dir(d / "model")
        rng = random.Random(1)
        heads = [t for t, _ in labelled_headlines()]
        with open(d / "in.jsonl", "w", encoding="utf-8") as fh:
            for i in range(classify_rows):
                text = f"{rng.choice(heads)} {i}" + (" \\ud800" if i % 997 == 0 else "")
                fh.write('{"id": "r%d", "text": "%s"}\n' % (i, text) if i % 1009 else "{broken\n")
        out = d / "out" / "labelled.jsonl"
        cases.append(KillCase("classify -o", lambda rerun, d=d, model=model, out=out: ["classify", "-m", str(model), str(d / "in.jsonl"),
                                                            "--id-field", "id", "-o", str(out), "-q"],
                              out, _file_bytes, ".labelled.jsonl.*.tmp",
                              reset=lambda out=out: out.unlink(missing_ok=True)))
    if "build" in names:
        from test_data_build import write_config, write_corpus

        d = workdir / "build"
        d.mkdir()
        write_corpus(d)
        cfg = write_config(d)
        out = d / "out" / "ds"
        cases.append(KillCase("data build --out", lambda rerun, cfg=cfg, out=out: ["data", "build", str(cfg), "--out", str(out), "-q"],
                              out, _dataset_snapshot, ".ds.*.tmp",
                              reset=lambda out=out: shutil.rmtree(out, ignore_errors=True)))
    if "train-tfidf" in names or "train-transformer" in names:
        from test_train_tinybert import build_tiny_bert, build_tiny_dataset

        data = build_tiny_dataset(workdir / "tiny-ds", n_train=300, n_eval=60)
    if "train-tfidf" in names:
        d = workdir / "tfidf"
        d.mkdir()
        cfg = d / "tfidf.yaml"
        cfg.write_text(yaml.safe_dump({"task": "classification", "data": {"path": str(data)},
                                       "model": {"kind": "tfidf"}, "train": {"seed": 3}}), encoding="utf-8")
        out = d / "out" / "model"
        cases.append(KillCase("train (TF-IDF)", lambda rerun, cfg=cfg, out=out: ["train", str(cfg), "--out", str(out)], out,
                              _model_snapshot, "model/.model.skops.*.tmp", fresh_each_kill=True,
                              reset=lambda out=out: shutil.rmtree(out, ignore_errors=True), compare=_compare_models))
    if "train-transformer" in names:
        d = workdir / "bert"
        d.mkdir()
        bert = build_tiny_bert(d / "base")
        cfg = d / "bert.yaml"
        cfg.write_text(yaml.safe_dump({
            "task": "classification", "data": {"path": str(data)},
            "model": {"kind": "transformer", "name_or_path": str(bert), "max_length": 32},
            "train": {"max_steps": 60, "batch_size": 8, "learning_rate": 5e-3, "seed": 7, "warmup_ratio": 0.0,
                      "eval_strategy": "steps", "eval_steps": 6, "logging_steps": 20, "num_threads": 1},  # a checkpoint every 6 steps
        }), encoding="utf-8")
        out = d / "out" / "model"
        cases.append(KillCase("train --resume (tiny BERT)",
                              lambda rerun, cfg=cfg, out=out: ["train", str(cfg), "--out", str(out)] + (["--resume"] if rerun else []),
                              out, _model_snapshot, "model/checkpoints/checkpoint-*", fresh_each_kill=True,
                              reset=lambda out=out: shutil.rmtree(out, ignore_errors=True), compare=_compare_models))
    return cases


# --- fuzz -----------------------------------------------------------------------------------------

_SCRIPTS = ("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґАБВГДЕЁЖЗІЇЄҐ", "abcdefghijklmnopqrstuvwxyzABCXYZ",
            "αβγδεζηθΩΣ", "אבגדהוזחט", "ابتثجحخدذرزعربي", "中文新闻日本語한국어", "😀🔥🇺🇦", "«»–—…“”‘’!?.,;:\"'()[]")
_DIGITS = "0123456789" "٠١٢٣٤٥٦٧٨٩" "۰۱۲۳۴۵۶۷۸۹" "०१२३४५६७८९" "０１２３４５６７８９" "𝟎𝟏𝟐"
_CONTROL = [chr(c) for c in [*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), *range(0x7f, 0xa0)]]
_FORMAT = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00a0", "\u202f", "\u2028", "\u2029", "\u202e", "\u00ad"]
_HEADINGS = ["Последние новости", "Останні новини", "Новости", "ПОСЛЕДНИЕ  НОВОСТИ"]


def _hostile_char(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.06:
        return chr(rng.randint(0xD800, 0xDFFF))  # a lone surrogate
    if r < 0.12:
        return rng.choice(_CONTROL)
    if r < 0.18:
        return rng.choice(_FORMAT)
    if r < 0.32:
        return rng.choice(_DIGITS)
    if r < 0.42:
        return " "
    if r < 0.45:
        return ":"
    return rng.choice(rng.choice(_SCRIPTS))


def _hostile_text(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(_hostile_char(rng) for _ in range(rng.randint(lo, hi)))


def _time(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    digits = rng.choice(["٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "0123456789"])
    return "".join(rng.choice(digits) for _ in range(2)) + ":" + "".join(rng.choice(digits) for _ in range(2))


def fuzz_page(rng: random.Random) -> str:
    """A page dump with a hostile sidebar (the title has a letter so the page is never empty)."""
    lines = ["Заголовок " + _hostile_text(rng, 0, 30)]
    lines += [_hostile_text(rng, 0, 80) for _ in range(rng.randint(0, 4))]
    lines.append(rng.choice(_HEADINGS))
    for _ in range(rng.randint(0, 14)):
        r = rng.random()
        if r < 0.2:
            lines.append(_time(rng))
        elif r < 0.5:
            lines.append(_time(rng) + _hostile_text(rng, 0, 40))
        elif r < 0.55:
            lines.append(rng.choice(["", "   ", "\u00a0", "Новости"]))
        else:
            lines.append(_hostile_text(rng, 1, 50))
    return rng.choice(["\n", "\r\n", "\r"]).join(lines)


def check_page(text: str) -> str | None:
    """Parse ``text``; return what is wrong (a crash or a broken invariant), else None."""
    from mlnews.errors import InputError
    from mlnews.ingest.decode import split_lines
    from mlnews.ingest.page import PageConfig, parse_page_text
    from mlnews.text import clean_line, replace_surrogates

    try:
        art = parse_page_text(text, "fuzz")
    except InputError as exc:
        msg = str(exc)
        if "sidebar time" in msg and "\n" not in msg:
            return None
        return f"unexpected InputError: {msg[:120]}"
    except Exception as exc:  # noqa: BLE001 - a crash is what this counts
        return f"crash: {type(exc).__name__}: {str(exc)[:120]}"
    ascii_time = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")
    heads = PageConfig().heading_keys()
    lines = [clean_line(ln) for ln in split_lines(replace_surrogates(text))]
    lines = [ln for ln in lines if ln]
    start = next((k for k, ln in enumerate(lines[1:], start=1) if ln.casefold() in heads), None)
    sidebar = [] if start is None else [ln for ln in lines[start + 1:] if ln.casefold() not in heads]
    if any(h.time is not None and not ascii_time.match(h.time) for h in art.headlines):
        return "a headline time is not HH:MM in ASCII digits"
    if any(not h.text or h.text != h.text.strip() for h in art.headlines):
        return "an empty or unstripped headline"
    rebuilt = "".join(h.text + (h.time or "") for h in art.headlines)
    if "".join(rebuilt.split()) != "".join("".join(sidebar).split()):
        return "sidebar lines lost, duplicated or invented"
    if len(art.headlines) != len([ln for ln in sidebar if not ascii_time.match(ln)]):
        return "headline count differs from the sidebar's text lines"
    try:
        (art.title + (art.lead or "") + "".join(art.paragraphs) + rebuilt).encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate survived parsing"
    return None


def run_fuzz(n: int, seed: int) -> dict:
    rng = random.Random(seed)
    problems: dict[str, int] = {}
    examples: list[str] = []
    counts = {"pages": 0, "with_surrogates": 0, "with_control": 0, "with_non_ascii_digits": 0, "sidebar_lines": 0}
    nd = set(_DIGITS[10:])
    t0 = time.perf_counter()
    for _ in range(n):
        page = fuzz_page(rng)
        counts["pages"] += 1
        counts["with_surrogates"] += any("\ud800" <= c <= "\udfff" for c in page)
        counts["with_control"] += any(c in _CONTROL for c in page)
        counts["with_non_ascii_digits"] += any(c in nd for c in page)
        why = check_page(page)
        if why:
            key = why.split(":")[0]
            problems[key] = problems.get(key, 0) + 1
            if len(examples) < 5:
                examples.append(f"{why} <- {page[:200]!r}")
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    crashes = sum(v for k, v in problems.items() if k == "crash")
    return {**counts, "crashes": crashes, "invariant_violations": sum(problems.values()) - crashes,
            "problems": problems, "examples": examples}


# --- load -----------------------------------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ARTICLES = [
    "Центробанк снизил ключевую ставку до шестнадцати процентов. Решение объяснили замедлением инфляции. "
    "Аналитики ожидали такого шага ещё в прошлом месяце. Рубль после решения почти не изменился.",
    "Динамо Київ перемогло Шахтар у фіналі кубка. Матч завершився з рахунком 2:1. Вболівальники святкували до ранку.",
]


def _request_mix(rng: random.Random, max_body: int) -> tuple[str, str, Any, dict, int]:
    """(kind, path, body, headers, expected status)."""
    from infer_helpers import labelled_headlines

    heads = [t for t, _ in labelled_headlines()]
    r = rng.random()
    if r < 0.6:
        return "classify", "/classify", {"texts": rng.sample(heads, rng.randint(1, 8)), "top_k": 2}, {}, 200
    if r < 0.8:
        return "summarise", "/summarise", {"text": rng.choice(ARTICLES), "max_words": 30}, {}, 200
    if r < 0.86:
        return "health", "/health", None, {}, 200
    if r < 0.9:
        return "surrogate", "/classify", '{"texts": ["Курс \\ud800 рубля упал"]}', {"content-type": "application/json"}, 200
    if r < 0.94:
        return "bad json", "/classify", "{not json", {"content-type": "application/json"}, 422
    if r < 0.97:
        return "too large", "/classify", b'{"texts": ["' + b"a" * (max_body + 10) + b'"]}', {"content-type": "application/json"}, 413
    return "chunked too large", "/classify", "chunked", {"content-type": "application/json"}, 413


async def _load(url: str, n: int, concurrency: int, duration: float, seed: int, max_body: int) -> dict:
    import httpx

    rng = random.Random(seed)
    plan = [_request_mix(rng, max_body) for _ in range(n)]
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    done = 0
    deadline = time.monotonic() + duration
    queue: asyncio.Queue = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)

    async def chunks(size: int):
        for _ in range(size // 65536 + 2):
            yield b"a" * 65536

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            try:
                kind, path, body, headers, expected = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            try:
                if body is None:
                    r = await client.get(url + path)
                elif body == "chunked":
                    r = await client.post(url + path, content=chunks(max_body), headers=headers)
                elif isinstance(body, (str, bytes)):
                    r = await client.post(url + path, content=body, headers=headers)
                else:
                    r = await client.post(url + path, json=body)
                status = r.status_code
            except httpx.HTTPError as exc:
                status = f"{type(exc).__name__}"
            latencies.setdefault(kind, []).append(time.perf_counter() - t0)
            done += 1
            if status != expected:
                errors.append(f"{kind}: got {status}, expected {expected}")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return {"requests": done, "planned": n, "errors": len(errors), "error_examples": errors[:5], "latencies": latencies}


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] * 1000


def run_load(workdir: Path, n: int, concurrency: int, duration: float, seed: int) -> dict:
    import httpx

    from infer_helpers import tiny_tfidf_dir

    model = tiny_tfidf_dir(workdir / "serve-model")
    port = _free_port()
    max_body = 200_000
    env = _env(workdir)
    log = open(workdir / "serve.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "mlnews", "serve", "-c", str(model), "-s", "lead", "--port", str(port),
                               f"limits.max_body_bytes={max_body}", "log_level=warning"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.post(url + "/classify", json={"texts": ["Курс рубля упал"]}, timeout=5).status_code == 200:
                    break
            if server.poll() is not None:
                raise RuntimeError(f"mlnews serve exited with {server.returncode}: see {workdir / 'serve.log'}")
            time.sleep(0.2)
        else:
            raise RuntimeError("mlnews serve did not answer within 120 s")
        rss_before = _rss_kb(server.pid)
        t0 = time.perf_counter()
        out = asyncio.run(_load(url, n, concurrency, duration, seed, max_body))
        wall = time.perf_counter() - t0
        rss_after = _rss_kb(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=30)
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    every = [x for v in out["latencies"].values() for x in v]
    out["per_kind"] = {k: {"n": len(v), "p50_ms": round(_pct(v, 0.5), 1), "p95_ms": round(_pct(v, 0.95), 1),
                           "p99_ms": round(_pct(v, 0.99), 1)} for k, v in sorted(out.pop("latencies").items())}
    out.update({"concurrency": concurrency, "duration_cap_s": duration, "wall_s": round(wall, 1),
                "rps": round(out["requests"] / wall, 1), "p50_ms": round(_pct(every, 0.5), 1),
                "p95_ms": round(_pct(every, 0.95), 1), "p99_ms": round(_pct(every, 0.99), 1),
                "rss_before_mb": round(rss_before / 1024, 1), "rss_after_mb": round(rss_after / 1024, 1),
                "max_body_bytes": max_body})
    return out


# --- report ---------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_avg": [round(x, 2) for x in os.getloadavg()]}


def render(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Fault suite (issue #15)", "",
        "Kill -9 at random points, a hostile-page fuzzer and a bounded loopback load test of `mlnews serve`",
        "(`scripts/fault_suite.py`; what each part checks is in its docstring and in [docs/faults.md](../docs/faults.md)).", "",
        f"Command: `{report['command']}`", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}. Load average (1/5/15 min) at the start "
        f"{report['load_start']}, at the end {report['load_end']}; 1-minute load sampled every 30 s: median "
        f"{report['load_1min_samples']['median']}, max {report['load_1min_samples']['max']}. {report['load_note']}", "",
        f"Result: **{'all checks passed' if report['ok'] else 'FAILED'}** ({report['seconds']:.0f} s).", "",
    ]
    if report.get("kills"):
        lines += ["## Kill -9 and rerun", "",
                  "| command | kills | killed while a temp existed | finished before the kill (exited / manifest written) | reruns or finished outputs ok | reruns without --resume | output ≠ reference | stale temp files | reference run (s) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in report["kills"]:
            lines.append(f"| `{r['name']}` | {r['kills']} | {r['killed_with_temp']} | {r['killed_after_exit']} / {r.get('killed_after_manifest', 0)} | "
                         f"{r['reruns_ok']} | {r['reruns_without_resume']} | {r['mismatches']} | {r['stale_files']} | {r['reference_seconds']:.1f} |")
        fails = [(r["name"], f) for r in report["kills"] for f in r["failures"]]
        if fails:
            lines += ["", "Failures:", ""] + [f"- `{n}`: {f}" for n, f in fails[:30]]
        lines += [""]
    if report.get("fuzz"):
        f = report["fuzz"]
        lines += ["## Parser fuzz", "",
                  f"{f['pages']:,} pages through `parse_page_text` in {f['seconds']} s: {f['with_surrogates']:,} with lone "
                  f"surrogates, {f['with_control']:,} with control characters, {f['with_non_ascii_digits']:,} with non-ASCII digits "
                  "(every page mixes scripts). "
                  f"**{f['crashes']} crashes, {f['invariant_violations']} invariant violations.**", ""]
        if f["examples"]:
            lines += ["Examples:", ""] + [f"- `{e}`" for e in f["examples"]] + [""]
    if report.get("load"):
        x = report["load"]
        lines += ["## Serve load test", "",
                  f"`mlnews serve` (tiny TF-IDF classifier, `lead` summariser, `limits.max_body_bytes={x['max_body_bytes']}`) on "
                  f"127.0.0.1; {x['requests']:,} of {x['planned']:,} planned requests from {x['concurrency']} concurrent "
                  f"clients (httpx, same machine) in {x['wall_s']} s (cap {x['duration_cap_s']:.0f} s), {x['rps']} requests/s. "
                  f"**{x['errors']} errors.** Latency p50 / p95 / p99: {x['p50_ms']} / {x['p95_ms']} / {x['p99_ms']} ms. "
                  f"Server RSS before / after: {x['rss_before_mb']} / {x['rss_after_mb']} MB.", "",
                  "| request | expected | n | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|---|"]
        expected = {"classify": 200, "summarise": 200, "health": 200, "surrogate": 200, "bad json": 422,
                    "too large": 413, "chunked too large": 413}
        for k, v in x["per_kind"].items():
            lines.append(f"| {k} | {expected.get(k, '?')} | {v['n']} | {v['p50_ms']} | {v['p95_ms']} | {v['p99_ms']} |")
        if x["error_examples"]:
            lines += ["", "Errors:", ""] + [f"- {e}" for e in x["error_examples"]]
        lines += [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="CI size: 2 kills per command, 1,000 pages, 200 requests")
    ap.add_argument("--kills", type=int, help="kills per command (default 20; 2 with --short)")
    ap.add_argument("--pages", type=int, help="fuzzed pages (default 10,000; 1,000 with --short)")
    ap.add_argument("--requests", type=int, help="load-test requests (default 2,000; 200 with --short)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--duration", type=float, help="load-test cap in seconds (default 300; 60 with --short)")
    ap.add_argument("--only", default="fuzz,load," + ",".join(COMMANDS),
                    help=f"comma-separated parts: fuzz, load, {', '.join(COMMANDS)}")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--load-note", default="other work on the machine not recorded",
                    help="what else ran on the machine (goes into the report)")
    ap.add_argument("--report", default=str(REPO / "benchmarks" / "faults.md"))
    ap.add_argument("--no-report", action="store_true", help="print the JSON only; write no report")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args(argv)
    kills = args.kills if args.kills is not None else (2 if args.short else 20)
    pages = args.pages if args.pages is not None else (1000 if args.short else 10_000)
    requests = args.requests if args.requests is not None else (200 if args.short else 2000)
    duration = args.duration if args.duration is not None else (60.0 if args.short else 300.0)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - {"fuzz", "load", *COMMANDS}
    if unknown:
        ap.error(f"--only: unknown part(s) {sorted(unknown)}; expected fuzz, load, {', '.join(COMMANDS)}")
    cmd = "python scripts/fault_suite.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    t0 = time.perf_counter()
    report: dict[str, Any] = {"command": cmd, "machine": machine(), "load_start": machine()["load_avg"],
                              "load_note": args.load_note}
    rng = random.Random(args.seed)
    ok = True
    samples: list[float] = []
    sampling = True

    def sample_load() -> None:  # the 1-minute load average every 30 s, for the report
        while sampling:
            samples.append(os.getloadavg()[0])
            time.sleep(30)

    import threading

    threading.Thread(target=sample_load, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="mlnews-faults-") as tmp:
        workdir = Path(tmp)
        if "fuzz" in parts:
            report["fuzz"] = run_fuzz(pages, args.seed)
            ok &= report["fuzz"]["crashes"] == 0 and report["fuzz"]["invariant_violations"] == 0
            print(f"fuzz: {report['fuzz']['pages']} pages, {report['fuzz']['crashes']} crashes, "
                  f"{report['fuzz']['invariant_violations']} invariant violations", file=sys.stderr)
        names = [c for c in COMMANDS if c in parts]
        if names:
            report["kills"] = []
            for case in build_cases(workdir, names):
                res = run_kills(case, kills, rng, workdir)
                report["kills"].append(res.__dict__)
                ok &= not res.failures and res.reruns_ok == kills
                print(f"{case.name}: {res.kills} kills ({res.killed_with_temp} with a temp), {res.reruns_ok} reruns ok, "
                      f"{res.mismatches} mismatches, {res.stale_files} stale; {res.failures[:2]}", file=sys.stderr)
        if "load" in parts:
            report["load"] = run_load(workdir, requests, args.concurrency, duration, args.seed)
            ok &= report["load"]["errors"] == 0 and report["load"]["requests"] >= requests
            print(f"load: {report['load']['requests']} requests, {report['load']['errors']} errors, "
                  f"p50/p95/p99 {report['load']['p50_ms']}/{report['load']['p95_ms']}/{report['load']['p99_ms']} ms",
                  file=sys.stderr)
    sampling = False
    report.update({"load_end": machine()["load_avg"], "seconds": time.perf_counter() - t0, "ok": bool(ok),
                   "load_1min_samples": {"n": len(samples), "median": round(statistics.median(samples), 2),
                                         "max": round(max(samples), 2)}})
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if args.no_report:
        print(json.dumps({k: v for k, v in report.items() if k != "machine"}, ensure_ascii=False, default=str)[:4000])
    else:
        from mlnews.io import write_text

        write_text(args.report, render(report) + "\n")
        print(f"wrote {args.report}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
