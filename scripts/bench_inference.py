#!/usr/bin/env python
"""Every classification engine side by side, in one process and one run, on the same headlines (issue #17).

Engines (each optional, skipped with a note when its folder is not given or missing):

* ``pipeline``      ``transformers.pipeline("text-classification", batch_size=32, truncation=True)`` on the
                    fine-tuned teacher folder (the baseline every ratio is against);
* ``torch``         mlnews torch backend on the same folder;
* ``onnx-int8``     the teacher's int8 ONNX export (``TEACHER/onnx`` or ``--teacher-onnx``);
* ``student-int8``  the distilled student's int8 ONNX export (``STUDENT/onnx``);
* ``embedding``     the frozen-e5 + logistic-regression folder with torch, and ``embedding-int8`` its export;
* ``static``        the static-embedding folder; ``tfidf`` the TF-IDF folder.

For each: headlines/s over ``--n`` headlines through the path of ``mlnews classify`` (length-sorted batches
of 32 for transformer engines, 1,024 for static and TF-IDF; a warm-up call first); milliseconds per headline at batch 1 (median of ``--latency-n`` single
calls); the folder's size on disk; load time (``Classifier.load`` after the libraries are imported);
peak RSS of a fresh process that loads the engine and classifies 1,000 headlines (psutil, every 20 ms); macro-F1
overall and per language on the labelled test split of the default build (``--dataset``).

The hardware limit: FLOPs per headline of each transformer engine (its layers, hidden and FFN sizes
and the mean token count of the speed set at its max_length) against the measured peak of this CPU for
a GEMM of the same shape through ONNX Runtime, int8 (dynamic quantisation, as the exports) and fp32.

    python scripts/bench_inference.py --teacher runs/e5-small --student runs/e5-small-student \\
        --embedding runs/e5-embed --static runs/static --tfidf runs/tfidf --json bench.json --md bench.md

Headlines: ``headlines_lenta.jsonl`` from ``$MLNEWS_SHARED/data`` (default ``../shared/data``); nothing is
copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MLNEWS_SHARED", REPO.parent / "shared"))
sys.path.insert(0, str(REPO / "scripts"))


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def folder_mb(path: Path, skip: tuple[str, ...] = ()) -> float:
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not any(part in skip for part in p.relative_to(path).parts):
            total += p.stat().st_size
    return round(total / 2**20, 1)


def speed_headlines(n: int, seed: int = 13, exclude: set[str] = frozenset()) -> list[str]:
    """``n`` seeded-random Lenta headlines, none of them in ``exclude`` (the training split's texts: the static
    model ships a word cache filled from those, so timing it on its own training headlines would flatter it)."""
    path = SHARED / "data" / "headlines_lenta.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path}: not found (set MLNEWS_SHARED)")
    titles = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            t = json.loads(line).get("title")
            if t and t not in exclude:
                titles.append(t)
    random.Random(seed).shuffle(titles)
    return titles[:n]


def rate(clf: Any, texts: list[str], batch_size: int = 32) -> float:
    from mlnews.infer.stream import Row, predict_in_order

    clf.predict(texts[:64])  # warm-up
    rows = (Row(id=str(i), text=t, where="") for i, t in enumerate(texts))
    t0 = time.perf_counter()
    n = sum(1 for _ in predict_in_order(rows, lambda b: clf.predict([r.text for r in b]), batch_size))
    return n / (time.perf_counter() - t0)


def latency_ms(clf: Any, texts: list[str]) -> float:
    clf.predict(texts[:2])
    times = []
    for t in texts:
        t0 = time.perf_counter()
        clf.predict([t])
        times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times), 2)


def pipeline_engine(model_dir: Path, texts: list[str], latency_texts: list[str]) -> dict[str, Any]:
    from transformers import pipeline

    from mlnews.modelfolder import ModelFolder

    prefix = ModelFolder.open(model_dir).manifest.input.prefix
    t0 = time.perf_counter()
    pipe = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device="cpu")
    load = time.perf_counter() - t0
    pre = [prefix + t for t in texts]
    pipe(pre[:64], batch_size=32, truncation=True)
    t0 = time.perf_counter()
    out = pipe(pre, batch_size=32, truncation=True)
    assert len(out) == len(texts)
    speed = len(texts) / (time.perf_counter() - t0)
    times = []
    for t in latency_texts:
        s = time.perf_counter()
        pipe(prefix + t, truncation=True)
        times.append(time.perf_counter() - s)
    return {"load_s": round(load, 2), "headlines_per_s": round(speed, 1),
            "ms_batch1": round(1000 * statistics.median(times), 2), "pipe": pipe, "prefix": prefix}


def _peak_rss_mb(cmd: list[str], what: str) -> float:
    """Peak RSS of a fresh process running ``cmd``, sampled every 20 ms with psutil (``ru_maxrss`` of a child
    would include the pages it shared with this big process before ``exec``)."""
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ps, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    if proc.returncode != 0:
        raise SystemExit(f"RSS probe of {what} failed: {proc.stderr.read().decode()[-800:]}")
    return round(peak / 2**20, 1)


def child_rss_mb(model_dir: Path, backend: str, texts_file: Path) -> float:
    """Peak RSS of a fresh process that loads the engine and classifies the file."""
    code = ("import sys; from mlnews.infer.classifier import Classifier; "
            "clf = Classifier.load(sys.argv[1], backend=sys.argv[2]); "
            "texts = open(sys.argv[3], encoding='utf-8').read().splitlines(); "
            "[clf.predict(texts[i:i+32]) for i in range(0, len(texts), 32)]")
    return _peak_rss_mb([sys.executable, "-c", code, str(model_dir), backend, str(texts_file)], f"{model_dir} ({backend})")


def pipeline_rss_mb(model_dir: Path, texts_file: Path, prefix: str) -> float:
    code = ("import sys; from transformers import pipeline; "
            "p = pipeline('text-classification', model=sys.argv[1], tokenizer=sys.argv[1], device='cpu'); "
            "texts = [sys.argv[3] + t for t in open(sys.argv[2], encoding='utf-8').read().splitlines()]; "
            "p(texts, batch_size=32, truncation=True)")
    return _peak_rss_mb([sys.executable, "-c", code, str(model_dir), str(texts_file), prefix], "the pipeline")


def quality(predict: Any, rows: list[dict]) -> dict[str, Any]:
    from mlnews.evaluate.metrics import macro_f1

    preds = predict(rows)
    out = {"n": len(rows), "macro_f1": round(macro_f1([r["label"] for r in rows], preds), 4)}
    for lang in sorted({r["lang"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
        out[f"macro_f1_{lang}"] = round(macro_f1([rows[i]["label"] for i in idx], [preds[i] for i in idx]), 4)
        out[f"n_{lang}"] = len(idx)
    return out


def test_rows(dataset: Path, split: str = "test") -> list[dict]:
    from mlnews.evaluate.classifier import load_eval_rows

    rows, _ = load_eval_rows(dataset, split, label_field="label", text_field="text", lead_field="lead",
                             body_field="body")
    return rows


def cache_hits(clf: Any, texts: list[str]) -> dict[str, Any]:
    """Of the speed set's word occurrences, the share found in the static folder's shipped word cache."""
    pieces = clf.backend.embedder.pieces
    shipped = set(pieces._shipped[0])
    words = [w for t in texts for w in pieces._normalize(t).split()]
    return {"shipped_words": len(shipped), "speed_word_hit": round(sum(w in shipped for w in words) / max(1, len(words)), 3)}


def without_shipped_cache(clf: Any) -> Any:
    """The static backend as it was before the word cache was shipped: an empty cache that fills as it goes."""
    import numpy as np

    clf.backend.embedder.pieces.prefill([], np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
    return clf


def mean_tokens(model_dir: Path, texts: list[str], max_length: int, prefix: str) -> float:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    lens = [len(ids) for ids in tok([prefix + t for t in texts], truncation=True, max_length=max_length)["input_ids"]]
    return float(np.mean(lens))


def encoder_flops(config: dict, tokens: float) -> float:
    """Multiply-adds x 2 of a BERT encoder on one sequence of ``tokens`` (dense layers + attention scores)."""
    d, f, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    dense = 2 * tokens * (4 * d * d + 2 * d * f)
    attention = 2 * 2 * tokens * tokens * d
    return layers * (dense + attention)


def gemm_peak(n: int = 2048, k: int = 384, m: int = 1536, repeats: int = 20) -> dict[str, float]:
    """GFLOP/s of an [n, k] x [k, m] GEMM through ONNX Runtime, fp32 and int8 (dynamic quantisation)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(0)
    w = rng.standard_normal((k, m)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", m])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((n, k)).astype(np.float32)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(fp32))
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        for name, path in (("fp32", fp32), ("int8", int8)):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = len(os.sched_getaffinity(0))
            sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            sess.run(None, {"x": x})
            t0 = time.perf_counter()
            for _ in range(repeats):
                sess.run(None, {"x": x})
            out[name] = round(2 * n * k * m * repeats / (time.perf_counter() - t0) / 1e9, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", type=Path, help="fine-tuned transformer classifier folder (pipeline, torch)")
    ap.add_argument("--teacher-onnx", type=Path, help="its int8 ONNX export (default TEACHER/onnx)")
    ap.add_argument("--student", type=Path, help="distilled student folder with its int8 export in STUDENT/onnx")
    ap.add_argument("--embedding", type=Path, help="model.kind embedding folder (int8 export in EMBEDDING/onnx if present)")
    ap.add_argument("--static", type=Path, help="model.kind static folder")
    ap.add_argument("--tfidf", type=Path, help="TF-IDF folder")
    ap.add_argument("--dataset", type=Path, help="dataset folder for quality (default: the teacher's metrics.json dataset)")
    ap.add_argument("--n", type=int, default=3000, help="headlines for the throughput measurement")
    ap.add_argument("--latency-n", type=int, default=200, help="single-headline calls for the batch-1 latency")
    ap.add_argument("--n-fast", type=int, default=20000,
                    help="static and TF-IDF also over this many headlines (the speed set first, then new ones): "
                         "the speed set takes them ~0.3 s, too short a window, and mostly first sightings of words")
    ap.add_argument("--no-rss", action="store_true", help="skip the per-engine RSS subprocesses")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--md", type=Path)
    args = ap.parse_args()

    import onnxruntime  # noqa: F401 - imported before any load is timed
    import torch
    import transformers  # noqa: F401

    from mlnews.infer.classifier import Classifier
    from mlnews.modelfolder import ONNX_DIR

    dataset = args.dataset
    if dataset is None and args.teacher:
        dataset = Path(json.loads((args.teacher / "metrics.json").read_text(encoding="utf-8"))["dataset"])
    rows = test_rows(dataset) if dataset else []
    exclude = {r["text"] for r in test_rows(dataset, "train")} if dataset else set()
    fast_texts = speed_headlines(max(args.n, args.n_fast), exclude=exclude)
    texts = fast_texts[: args.n]
    lat_texts = texts[: args.latency_n]
    engines: list[tuple[str, Path, str]] = []  # (name, folder, backend)
    if args.teacher:
        engines += [("torch", args.teacher, "torch")]
        onnx_dir = args.teacher_onnx or args.teacher / ONNX_DIR
        if (onnx_dir / "mlnews.json").is_file():
            engines.append(("onnx-int8", onnx_dir, "onnx"))
    if args.student and (args.student / ONNX_DIR / "mlnews.json").is_file():
        engines.append(("student-int8", args.student / ONNX_DIR, "onnx"))
    if args.embedding:
        engines.append(("embedding", args.embedding, "torch"))
        if (args.embedding / ONNX_DIR / "mlnews.json").is_file():
            engines.append(("embedding-int8", args.embedding / ONNX_DIR, "onnx"))
    if args.static:
        engines.append(("static", args.static, "static"))
        engines.append(("static-no-word-cache", args.static, "static"))
    if args.tfidf:
        engines.append(("tfidf", args.tfidf, "tfidf"))

    machine = {"python": platform.python_version(), "torch": torch.__version__, "cpus": len(os.sched_getaffinity(0)),
               "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
               "loadavg_start": loadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(f"[bench] {len(texts)} headlines (none of the {len(exclude)} training texts), {len(rows)} test rows, load {machine['loadavg_start']}", file=sys.stderr)
    results: dict[str, dict[str, Any]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="mlnews-bench-inf-"))
    rss_file = tmp / "rss.txt"
    rss_file.write_text("\n".join(texts[:1000]), encoding="utf-8")

    if args.teacher:
        r = pipeline_engine(args.teacher, texts, lat_texts)
        pipe, prefix = r.pop("pipe"), r.pop("prefix")
        r["size_mb"] = folder_mb(args.teacher, skip=(ONNX_DIR,))
        if rows:
            def pipe_predict(rs: list[dict]) -> list[str]:
                from mlnews.text import compose_text

                clf_in = Classifier.load(args.teacher, backend="torch").input
                comp = [compose_text(x["text"], x.get("lead", ""), x.get("body", ""), use_lead=clf_in.use_lead,
                                     body_chars=clf_in.body_chars, prefix=prefix) for x in rs]
                return [o["label"] for o in pipe(comp, batch_size=32, truncation=True)]
            r.update(quality(pipe_predict, rows))
        if not args.no_rss:
            r["rss_mb"] = pipeline_rss_mb(args.teacher, rss_file, prefix)
        r["loadavg"] = loadavg()
        results["pipeline"] = r
        del pipe
        print(f"[bench] pipeline: {r}", file=sys.stderr)

    for name, folder, backend in engines:
        t0 = time.perf_counter()
        clf = Classifier.load(folder, backend=backend)
        r = {"load_s": round(time.perf_counter() - t0, 2), "backend": clf.backend_name}
        if name == "static":
            r.update(cache_hits(clf, texts))
        elif name == "static-no-word-cache":
            clf = without_shipped_cache(clf)
        # transformer engines in batches of 32 (padding grows with the batch); static and TF-IDF are one sparse
        # product / table lookup per call, so they get batches of 1,024 (mlnews classify --batch-size 1024)
        r["batch"] = 1024 if backend in ("static", "tfidf") else 32
        r["headlines_per_s"] = round(rate(clf, texts, r["batch"]), 1)
        if backend in ("static", "tfidf") and len(fast_texts) > len(texts):
            r["headlines_per_s_large"] = round(rate(clf, fast_texts, r["batch"]), 1)
            r["n_large"] = len(fast_texts)
        r["ms_batch1"] = latency_ms(clf, lat_texts)
        r["size_mb"] = folder_mb(folder, skip=(ONNX_DIR,))
        if rows:
            r.update(quality(lambda rs, c=clf: [p["label"] for p in c.predict(
                [x["text"] for x in rs], leads=[x.get("lead", "") for x in rs],
                bodies=[x.get("body", "") for x in rs])], rows))
        if not args.no_rss:
            r["rss_mb"] = child_rss_mb(folder, backend, rss_file)
        r["loadavg"] = loadavg()
        m = clf.manifest
        cfg_path = folder / "config.json"
        if cfg_path.is_file() and m.extra.get("onnx", {}).get("source_kind", m.kind) in ("transformer", "embedding"):
            config = json.loads(cfg_path.read_text(encoding="utf-8"))
            toks = mean_tokens(folder, texts[:1000], m.input.max_length, m.input.prefix)
            r["tokens_per_headline"] = round(toks, 1)
            r["gflop_per_headline"] = round(encoder_flops(config, toks) / 1e9, 4)
        results[name] = r
        del clf
        print(f"[bench] {name}: {r}", file=sys.stderr)

    peak = gemm_peak()
    machine["loadavg_end"] = loadavg()
    base = results.get("pipeline", {}).get("headlines_per_s")
    for name, r in results.items():
        if base:
            r["x_pipeline"] = round(r["headlines_per_s"] / base, 2)
        flops = r.get("gflop_per_headline")
        if flops is None and name == "pipeline" and "torch" in results:
            flops = r["gflop_per_headline"] = results["torch"].get("gflop_per_headline")
        if flops:
            kind = "int8" if "int8" in name else "fp32"
            r["achieved_gflops"] = round(flops * r["headlines_per_s"], 1)
            r["peak_gemm"] = kind
            r["of_peak"] = round(r["achieved_gflops"] / peak[kind], 3)
    report = {"machine": machine, "gemm_peak_gflops": peak, "headlines": len(texts), "test_rows": len(rows),
              "dataset": str(dataset) if dataset else None, "engines": results}
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.md:
        args.md.write_text(markdown(report), encoding="utf-8")


def markdown(report: dict[str, Any]) -> str:
    head = ["engine", "headlines/s", "× pipeline", "ms/headline (batch 1)", "size MB", "load s", "RSS MB",
            "macro-F1", "ru", "uk", "GFLOP/headline", "of peak GEMM"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in report["engines"].items():
        cells = [name, f"{r['headlines_per_s']:,.0f}", r.get("x_pipeline", "-"), r["ms_batch1"], r["size_mb"],
                 r["load_s"], r.get("rss_mb", "-"), r.get("macro_f1", "-"), r.get("macro_f1_ru", "-"),
                 r.get("macro_f1_uk", "-"), r.get("gflop_per_headline", "-"),
                 f"{r['of_peak']:.1%} ({r['peak_gemm']})" if r.get("of_peak") else "-"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    peak = report["gemm_peak_gflops"]
    lines.append("")
    for name, r in report["engines"].items():
        if "headlines_per_s_large" in r:
            lines.append(f"- {name} over {r['n_large']:,} headlines (the speed set first, then new ones; each once): "
                         f"{r['headlines_per_s_large']:,.0f} headlines/s.")
        if "shipped_words" in r:
            lines.append(f"- {name}: its folder ships a word cache of {r['shipped_words']:,} training words; "
                         f"{r['speed_word_hit']:.1%} of the speed set's word occurrences are in it (the speed set "
                         f"holds no training headline); static-no-word-cache is the same folder with that cache "
                         f"emptied (it fills as it goes).")
    lines.append("")
    lines.append(f"Measured GEMM peak ([2048, 384] x [384, 1536], ONNX Runtime, all cores): int8 {peak['int8']} "
                 f"GFLOP/s, fp32 {peak['fp32']} GFLOP/s. Load average {report['machine']['loadavg_start']} at the "
                 f"start, {report['machine']['loadavg_end']} at the end.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
