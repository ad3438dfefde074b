#!/usr/bin/env python
"""Batch-classification benchmark: transformers.pipeline vs mlnews torch / ONNX int8 / TF-IDF, side by side.

One run, same 10,000 headlines, same trained model, one process (so all engines share the machine's
conditions), then:

* headlines/s for (a) ``transformers.pipeline("text-classification", batch_size=32)`` on the torch
  folder, (b) mlnews torch, (c) mlnews ONNX int8, (d) the TF-IDF model; (b)-(d) go through the
  same bounded, length-sorted batching as ``mlnews classify`` (``predict_in_order``, batch 32);
* macro-F1 of torch vs ONNX int8 (and TF-IDF) on a held-out labelled test split;
* peak RSS of a ``mlnews classify`` subprocess streaming N (default 1,000,000) headlines, sampled with psutil.

Models: ``--model DIR`` (a trained transformer classifier folder) and ``--tfidf DIR``. Without them the
script builds both from ``headlines_lenta.jsonl`` into ``--work``: an e5-small *linear probe* (the
converted multilingual-e5-small encoder, frozen, with its classification head fitted by logistic
regression on the pooled outputs of the train split; the checkpoint has no pooler, so the pooler is set to
tanh(CLS)) and a char-n-gram TF-IDF + logistic regression.

    nice -n 10 python scripts/bench_classify.py --work /tmp/mlnews-bench-classify --json /tmp/mlnews-bench-classify/results.json

Data: ``$MLNEWS_SHARED/data`` (default ``../shared/data``); nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from mlnews.io import write_json

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MLNEWS_SHARED", REPO.parent / "shared"))
PREFIX = "query: "


def load_headlines(path: Path, min_count: int) -> list[tuple[str, str]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("label") and r.get("title"):
                rows.append((r["title"], r["label"]))
    counts: dict[str, int] = {}
    for _, lab in rows:
        counts[lab] = counts.get(lab, 0) + 1
    return [(t, lab) for t, lab in rows if counts[lab] >= min_count]


def build_probe(out: Path, train: list[tuple[str, str]], labels: list[str], batch_size: int = 64) -> None:
    """e5-small encoder (frozen) + a classification head fitted with logistic regression on pooled outputs."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mlnews.models import resolve
    from mlnews.modelfolder import Manifest, ModelFolder

    base = resolve("e5-small")
    tok = AutoTokenizer.from_pretrained(base.path)
    model = AutoModelForSequenceClassification.from_pretrained(
        base.path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)}
    ).eval()
    # The converted e5 checkpoint has no pooler weights: make the pooler tanh(CLS) instead of a random projection.
    with torch.no_grad():
        model.bert.pooler.dense.weight.copy_(torch.eye(model.config.hidden_size))
        model.bert.pooler.dense.bias.zero_()
    feats = []
    texts = [base.input_prefix + t for t, _ in train]
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tok(texts[i : i + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt")
            feats.append(model.bert(**enc).pooler_output.numpy())
    X = np.vstack(feats)
    y = np.array([labels.index(lab) for _, lab in train])
    lr = LogisticRegression(C=2.0, max_iter=3000).fit(X, y)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor(lr.coef_, dtype=torch.float32))
        model.classifier.bias.copy_(torch.tensor(lr.intercept_, dtype=torch.float32))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    ModelFolder(out).finish(Manifest.new(
        task="classification", kind="transformer", labels=labels, base_model="e5-small (frozen, linear probe)",
        input={"prefix": base.input_prefix, "max_length": 128, "use_lead": True, "body_chars": 300},
    ))


def build_tfidf(out: Path, train: list[tuple[str, str]], labels: list[str]) -> None:
    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from mlnews.modelfolder import Manifest, ModelFolder

    pipe = Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ("clf", LogisticRegression(C=10.0, max_iter=2000)),
    ]).fit([t for t, _ in train], [lab for _, lab in train])
    out.mkdir(parents=True, exist_ok=True)
    sio.dump(pipe, out / "model.skops")
    ModelFolder(out).finish(Manifest.new(task="classification", kind="tfidf", labels=labels,
                                      input={"prefix": "", "max_length": 128, "use_lead": True, "body_chars": 300}))


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def mlnews_rate(clf, texts: list[str], batch_size: int = 32) -> tuple[float, list[str]]:
    """Headlines/s through the same path as `mlnews classify` (bounded window, length-sorted batches)."""
    from mlnews.infer.stream import Row, predict_in_order

    rows = (Row(id=str(i), text=t, where="") for i, t in enumerate(texts))
    t0 = time.perf_counter()
    labels = [p["label"] for _, p in predict_in_order(rows, lambda b: clf.predict([r.text for r in b]), batch_size)]
    return len(texts) / (time.perf_counter() - t0), labels


def warm_rate(clf, texts: list[str]) -> float:
    """Like the pipeline's measurement: one warm-up call on 64 texts, then the timed run."""
    clf.predict(texts[:64])
    return mlnews_rate(clf, texts)[0]


def pipeline_rate(model_dir: Path, texts: list[str]) -> float:
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device="cpu")
    prefixed = [PREFIX + t for t in texts]
    pipe(prefixed[:64], batch_size=32, truncation=True)  # warm-up
    t0 = time.perf_counter()
    out = pipe(prefixed, batch_size=32, truncation=True)
    assert len(out) == len(texts)
    return len(texts) / (time.perf_counter() - t0)


def stream_rss(model_dir: Path, headlines: list[str], n_rows: int, work: Path) -> dict:
    """Stream n_rows headlines through `mlnews classify` (subprocess), sampling its RSS with psutil."""
    import psutil

    big = work / f"stream_{n_rows}.jsonl"
    if not big.exists():
        with open(big, "w", encoding="utf-8") as fh:
            for i in range(n_rows):
                fh.write(json.dumps({"id": i, "title": headlines[i % len(headlines)]}, ensure_ascii=False) + "\n")
    cmd = [sys.executable, "-m", "mlnews", "classify", "-m", str(model_dir), str(big), "--text-field", "title",
           "--id-field", "id"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    done = 0

    def drain() -> None:
        nonlocal done
        for _ in proc.stdout:  # type: ignore[union-attr]
            done += 1

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    samples: list[tuple[int, int]] = []  # (rows written, rss bytes)
    t0 = time.perf_counter()
    while proc.poll() is None:
        try:
            samples.append((done, ps.memory_info().rss))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    reader.join()
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    if proc.returncode != 0:
        raise SystemExit(f"mlnews classify failed: {err[-2000:]}")
    # Baseline: RSS once the model is loaded and the first 1% of rows are out (imports, model, first window).
    after = [rss for rows, rss in samples if rows >= n_rows // 100]
    base = after[0] if after else samples[-1][1]
    peak = max(rss for _, rss in samples)
    return {
        "rows": n_rows, "rows_out": done, "seconds": round(seconds, 1), "rows_per_s": round(done / seconds),
        "rss_at_1pct_mb": round(base / 2**20, 1), "peak_rss_mb": round(peak / 2**20, 1),
        "rss_growth_mb": round((peak - base) / 2**20, 1), "summary": err.strip().splitlines()[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "headlines_lenta.jsonl")
    ap.add_argument("--work", type=Path, default=Path("/tmp/mlnews-bench-classify"))
    ap.add_argument("--model", type=Path, help="trained transformer classifier folder (default: build an e5-small linear probe)")
    ap.add_argument("--tfidf", type=Path, help="TF-IDF model folder (default: train one on the train split)")
    ap.add_argument("--n", type=int, default=10_000, help="headlines for the speed comparison")
    ap.add_argument("--train-n", type=int, default=4000)
    ap.add_argument("--test-n", type=int, default=2000)
    ap.add_argument("--stream-rows", type=int, default=1_000_000)
    ap.add_argument("--min-count", type=int, default=200, help="drop labels with fewer headlines than this")
    ap.add_argument("--no-quality", action="store_true", help="skip the macro-F1 comparison on the test split")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--engines", default="a,b,c,d",
                    help="which engines to time (a pipeline, b torch, c onnx-int8, d tfidf); run one per process to "
                         "keep one engine's threads from slowing the next")
    args = ap.parse_args()

    from mlnews.infer.classifier import Classifier
    from mlnews.infer.onnx import export_onnx

    args.work.mkdir(parents=True, exist_ok=True)
    data = load_headlines(args.data, args.min_count)
    random.Random(13).shuffle(data)
    labels = sorted({lab for _, lab in data})
    test, train = data[: args.test_n], data[args.test_n : args.test_n + args.train_n]
    speed = [t for t, _ in data[args.test_n :]][: args.n]
    res: dict = {"machine": {"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "platform": platform.platform(),
                             "python": platform.python_version()},
                 "data": {"file": args.data.name, "labels": len(labels), "train": len(train), "test": len(test), "speed": len(speed)}}
    t0 = time.perf_counter()
    model_dir = args.model or args.work / "e5-probe"
    if not (model_dir / "mlnews.json").exists():
        build_probe(model_dir, train, labels)
    tfidf_dir = args.tfidf or args.work / "tfidf"
    if not (tfidf_dir / "mlnews.json").exists():
        build_tfidf(tfidf_dir, train, labels)
    onnx_dir = args.work / "onnx-int8"
    if not (onnx_dir / "mlnews.json").exists() or args.model:
        export_onnx(model_dir, onnx_dir, int8=True)
    res["setup_seconds"] = round(time.perf_counter() - t0, 1)
    print(f"models ready in {res['setup_seconds']}s: {model_dir}, {onnx_dir}, {tfidf_dir}", file=sys.stderr)

    torch_clf = Classifier.load(model_dir, backend="torch")
    onnx_clf = Classifier.load(onnx_dir)
    tfidf_clf = Classifier.load(tfidf_dir)
    speeds = {}
    wanted = set(args.engines.split(","))
    for name, fn in [
        ("a_pipeline", lambda: pipeline_rate(model_dir, speed)),
        ("b_mlnews_torch", lambda: warm_rate(torch_clf, speed)),
        ("c_mlnews_onnx_int8", lambda: warm_rate(onnx_clf, speed)),
        ("d_tfidf", lambda: warm_rate(tfidf_clf, speed)),
    ]:
        if name[0] not in wanted:
            continue
        before = loadavg()
        rate = fn()
        speeds[name] = {"headlines_per_s": round(rate, 1), "loadavg_before": before, "loadavg_after": loadavg()}
        print(f"{name}: {rate:.1f} headlines/s", file=sys.stderr)
    if {"a", "c"} <= wanted:
        speeds["speedup_onnx_int8_vs_pipeline"] = round(speeds["c_mlnews_onnx_int8"]["headlines_per_s"] / speeds["a_pipeline"]["headlines_per_s"], 2)
    if {"a", "b"} <= wanted:
        speeds["speedup_torch_vs_pipeline"] = round(speeds["b_mlnews_torch"]["headlines_per_s"] / speeds["a_pipeline"]["headlines_per_s"], 2)
    res["speed"] = speeds

    if not args.no_quality:
        res["quality"] = quality(test, torch_clf, onnx_clf, tfidf_clf)
    if args.stream_rows:
        res["stream"] = {"model": "tfidf", **stream_rss(tfidf_dir, [t for t, _ in data], args.stream_rows, args.work)}
        print(f"stream: {res['stream']}", file=sys.stderr)
    print(json.dumps(res, ensure_ascii=False, indent=2))
    if args.json:
        write_json(args.json, res)  # atomic


def quality(test: list[tuple[str, str]], torch_clf, onnx_clf, tfidf_clf) -> dict:
    """Macro-F1 (points) of each engine on the labelled test split, and torch/ONNX agreement."""
    from sklearn.metrics import f1_score

    gold = [lab for _, lab in test]
    texts = [t for t, _ in test]
    preds = {name: mlnews_rate(clf, texts)[1] for name, clf in (("torch", torch_clf), ("onnx_int8", onnx_clf), ("tfidf", tfidf_clf))}
    f1 = {name: round(100 * f1_score(gold, p, average="macro"), 2) for name, p in preds.items()}
    print(f"macro-F1: {f1}", file=sys.stderr)
    return {
        "macro_f1": f1,
        "onnx_int8_minus_torch_points": round(f1["onnx_int8"] - f1["torch"], 2),
        "onnx_torch_agreement": round(float(np.mean([a == b for a, b in zip(preds["torch"], preds["onnx_int8"])])), 4),
        "test_rows": len(test),
    }


if __name__ == "__main__":
    main()
