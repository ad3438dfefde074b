"""Benchmark ``mlnews classify-dist``: rows/s with 1 vs 2 Ray workers on the same headlines (benchmarks/scale.md).

Writes N headlines (titles of ``../shared/data/headlines_lenta.jsonl`` repeated, with a counter so rows
differ; synthetic headlines when the shared data is absent) as JSONL shards into a temporary folder,
then, in ONE run so that both configurations see the same machine load, times:

* ``mlnews classify`` (local, one process) on the same shards, as the baseline;
* ``classify-dist`` with each worker count, in ABBA order (1, 2, 2, 1 by default), Ray started once
  (its start-up time is reported separately, it is paid once per job);
* model load time and resident memory of one loaded model (what every worker pays once).

The model is ``--model DIR`` or, by default, a TF-IDF + logistic-regression folder fitted here on the
shared titles (``model.kind: tfidf`` layout). Run it with ``nice`` on a shared machine::

    nice python scripts/bench_scale.py --rows 200000 --json benchmarks/scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlnews.io import write_json

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MLNEWS_SHARED", REPO.parent / "shared")) / "data" / "headlines_lenta.jsonl"


def load_titles() -> tuple[list[str], list[str], str]:
    """(titles, labels, where from): shared lenta headlines, or synthetic ones when absent."""
    if SHARED.is_file():
        titles, labels = [], []
        with open(SHARED, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec.get("title") and rec.get("label"):
                    titles.append(rec["title"])
                    labels.append(rec["label"])
        return titles, labels, str(SHARED)
    rng = random.Random(0)
    words = {"economy": ["рубль", "банк", "нефть"], "sports": ["матч", "гол", "турнир"], "politics": ["закон", "выборы", "уряд"]}
    filler = ["сегодня", "новость", "город", "неделя", "після", "знову"]
    titles, labels = [], []
    for i in range(3000):
        lab = list(words)[i % 3]
        titles.append(" ".join(rng.sample(filler, 4) + [rng.choice(words[lab])]))
        labels.append(lab)
    return titles, labels, "synthetic"


def build_tfidf(titles: list[str], labels: list[str], out: Path) -> Path:
    """A TF-IDF model folder (skops pipeline + mlnews.json) fitted on the titles."""
    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from mlnews.modelfolder import Manifest, ModelFolder

    pipe = Pipeline([("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=50_000, sublinear_tf=True)),
                     ("clf", LogisticRegression(max_iter=300))])
    pipe.fit(titles, labels)
    out.mkdir(parents=True)
    sio.dump(pipe, out / "model.skops")
    names = [str(c) for c in pipe.classes_]
    ModelFolder(out).finish(Manifest.new(task="classification", kind="tfidf", labels=names,
                                      input={"prefix": "", "max_length": 128, "use_lead": True, "body_chars": 300},
                                      base_model=None))
    return out


def write_shards(titles: list[str], rows: int, n_shards: int, out: Path) -> list[Path]:
    out.mkdir(parents=True)
    paths = [out / f"headlines-{i:03d}.jsonl" for i in range(n_shards)]
    fhs = [open(p, "w", encoding="utf-8") for p in paths]
    try:
        for i in range(rows):
            fhs[i % n_shards].write(json.dumps({"id": f"h{i}", "title": f"{titles[i % len(titles)]} #{i}"}, ensure_ascii=False) + "\n")
    finally:
        for fh in fhs:
            fh.close()
    return paths


def model_cost(model_dir: Path) -> dict[str, float]:
    """Load time and resident memory of one loaded model, in a fresh process (what each worker pays)."""
    code = (
        "import os,time,psutil;p=psutil.Process();r0=p.memory_info().rss;t=time.perf_counter();"
        "from mlnews.infer.classifier import Classifier;c=Classifier.load(%r);c.predict(['тест']);"
        "print(time.perf_counter()-t, (p.memory_info().rss-r0)/2**20, p.memory_info().rss/2**20)" % str(model_dir)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return {"load_seconds": round(float(out[0]), 2), "model_rss_mb": round(float(out[1]), 1), "process_rss_mb": round(float(out[2]), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--model", type=Path, default=None, help="model folder (default: a TF-IDF folder fitted here)")
    ap.add_argument("--order", default="1,2,2,1", help="worker counts, in run order")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mlnews.infer.distributed import classify_dist, init_ray

    titles, labels, origin = load_titles()
    tmp = Path(tempfile.mkdtemp(prefix="mlnews-bench-scale-"))
    model = args.model or build_tfidf(titles, labels, tmp / "model")
    shards = write_shards(titles, args.rows, args.shards, tmp / "shards")
    res: dict = {"rows": args.rows, "shards": args.shards, "titles_from": origin, "model": str(args.model or "tfidf (fitted here)"),
                 "cores": os.cpu_count(), "batch_size": args.batch_size, "load_before": os.getloadavg()}
    res["model_cost"] = model_cost(model)

    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlnews", "classify", "-m", str(model), *map(str, shards), "--text-field", "title",
                    "--id-field", "id", "--batch-size", str(args.batch_size), "-q", "-o", str(tmp / "local.jsonl")], check=True)
    local_s = time.perf_counter() - t
    res["local"] = {"seconds": round(local_s, 1), "rows_per_s": round(args.rows / local_s)}
    print(f"local mlnews classify: {local_s:.1f} s, {args.rows / local_s:,.0f} rows/s", file=sys.stderr)

    t = time.perf_counter()
    init_ray()
    res["ray_start_seconds"] = round(time.perf_counter() - t, 1)
    from mlnews.ingest.inputs import Columns

    runs = []
    for n, workers in enumerate(int(w) for w in args.order.split(",")):
        t = time.perf_counter()
        r = classify_dist([str(tmp / "shards")], str(model), tmp / f"out-{n}", spec=Columns(text="title", id="id"),
                          batch_size=args.batch_size, workers=workers)
        s = time.perf_counter() - t
        assert r.rows_out == args.rows and r.n_skipped == 0, r
        runs.append({"workers": workers, "seconds": round(s, 1), "rows_per_s": round(args.rows / s)})
        print(f"classify-dist --workers {workers}: {s:.1f} s, {args.rows / s:,.0f} rows/s", file=sys.stderr)
    res["runs"] = runs
    res["load_after"] = os.getloadavg()
    for w in sorted({r["workers"] for r in runs}):
        secs = [r["seconds"] for r in runs if r["workers"] == w]
        res[f"workers_{w}_rows_per_s_mean"] = round(args.rows * len(secs) / sum(secs))
    import ray
    import shutil

    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(res, indent=2, ensure_ascii=False))
    if args.json:
        write_json(args.json, res)  # atomic


if __name__ == "__main__":
    main()
