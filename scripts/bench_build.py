"""Benchmark ``mlnews data build`` on a generated N-headline JSONL (default 1,000,000).

Generates synthetic Russian headlines from templates (labels in the default taxonomy), writes a
data config for them, builds it in this process and reports wall time per phase and peak RSS::

    nice -n 10 python scripts/bench_build.py --rows 1000000 --workdir /tmp/mlnews-bench

Nothing here is third-party text: the vocabulary below is ours.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import time
from pathlib import Path

import yaml

_WORDS = yaml.safe_load((Path(__file__).with_name("bench_build_vocab.yaml")).read_text(encoding="utf-8"))
VOCAB: dict[str, list[list[str]]] = _WORDS["vocab"]  # label -> [subjects, verbs, objects]
PLACES: list[str] = _WORDS["places"]
WHEN: list[str] = _WORDS["when"]


def generate(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    labels = list(VOCAB)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(rows):
            label = labels[rng.randrange(len(labels))]
            subj, verb, obj = (rng.choice(part) for part in VOCAB[label])
            title = (f"{subj} {rng.choice(PLACES)} {rng.choice(WHEN)} {verb} {obj} "
                     f"№{rng.randrange(1, 10**6)} за {rng.randrange(1, 999)} дней")
            rec = {"id": f"synthetic-{i}", "source": "synthetic", "lang": "ru", "title": title, "label": label,
                   "label_origin": "gold", "published": None}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/mlnews-bench"))
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--no-near", action="store_true", help="exact dedup only (no MinHash)")
    args = ap.parse_args()
    repo = Path(__file__).resolve().parent.parent
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / f"headlines_{args.rows}.jsonl"
    t0 = time.perf_counter()
    if not data.exists():
        generate(data, args.rows, args.seed)
    t_gen = time.perf_counter() - t0
    cfg = {
        "name": "bench", "taxonomy": str(repo / "configs/taxonomy/topics.yaml"), "langs": ["ru"], "seed": 13,
        "sources": [{"name": "synthetic", "path": str(data),
                     "columns": {"format": "jsonl", "kind": "headline", "id": "id", "title": "title",
                                 "label": "label", "label_origin": "label_origin", "lang": "lang",
                                 "source": "source"},
                     "label_origin": "gold"}],
        "weak": {"methods": []},
        "dedup": {"near": not args.no_near},
    }
    cfg_path = args.workdir / "bench.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")

    from mlnews.data import build_dataset

    phases: dict[str, float] = {}
    last = [time.perf_counter(), None]

    def progress(stage: str, n: int, total: int | None = None) -> None:
        now = time.perf_counter()
        if stage != last[1]:
            print(f"[{time.strftime('%H:%M:%S')}] {stage} (after {now - t1:.0f} s)", file=sys.stderr, flush=True)
        if last[1] is not None and last[1] != stage:
            phases[last[1]] = phases.get(last[1], 0.0) + now - last[0]
            last[0] = now
        elif last[1] is None:
            last[0] = now
        last[1] = stage

    u0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = u0.ru_utime + u0.ru_stime
    t1 = time.perf_counter()
    last[:] = [t1, "scan"]
    stats = build_dataset(cfg_path, args.workdir / "out", progress=progress)
    t_build = time.perf_counter() - t1
    if last[1] is not None:
        phases[last[1]] = phases.get(last[1], 0.0) + time.perf_counter() - last[0]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = usage.ru_maxrss / 1024
    report = {
        "rows": args.rows, "near_dedup": not args.no_near, "generate_s": round(t_gen, 1),
        "build_s": round(t_build, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime - cpu0, 1), "phases_s": {k: round(v, 1) for k, v in phases.items()},
        "peak_rss_mb": round(rss_mb), "splits": stats["classification"]["splits"],
        "dropped": stats["classification"]["dropped"], "dedup": stats["dedup"],
        "python": sys.version.split()[0], "machine": platform.platform(),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
