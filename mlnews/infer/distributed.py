"""Distributed batch classification on Ray Data (``mlnews classify-dist``).

The same model folder and the same row code as ``mlnews classify``, spread over a Ray cluster (or
the cores of this machine):

1. **read** - one Ray task per input shard (JSONL / Parquet, also CSV/TSV/TXT) turns it into rows with
   :mod:`mlnews.ingest.inputs`, the one input reader of every command,
   so ids (``file:line`` or ``--id-field``), text cleaning and malformed-row reasons are those of the
   local path. A shard that cannot be read at all (invalid Parquet, I/O error) becomes one malformed
   row named after the file: it is reported and counted, the other shards go on.
2. **classify** - ``map_batches`` through :class:`ClassifyActor`, an actor pool (``--workers N``)
   where each actor loads :class:`mlnews.infer.classifier.Classifier` once and predicts with the same
   length-sorted batching (:func:`mlnews.infer.stream.predict_in_order`).
3. **write** - :class:`ShardSink` writes ``part-NNNNN.jsonl`` (or ``.parquet``) shards with the output
   row schema of ``mlnews classify`` into a temporary folder, plus ``_skipped-NNNNN.jsonl`` listing
   every malformed row; the driver adds ``_summary.json`` and renames the folder into place.

Row accounting is the local one: rows in = rows out + rows skipped, checked at the end.
Memory stays bounded: Ray Data streams blocks through the three stages, the object store is capped
in local mode, and no stage holds more than a batch (or a shard being written) at a time.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from mlnews.errors import InputError, MlnewsError
from mlnews.infer.classifier import BACKENDS
from mlnews.infer.records import MAX_LISTED, output_fields, prediction_record, reason_kind
from mlnews.ingest.inputs import BadRow, Columns, ReadStats, Row, iter_source_rows, resolve_inputs

OUTPUT_FORMATS = ("jsonl", "parquet")
READ_ROWS = 4096  # rows per block emitted by a read task
SUMMARY = "_summary.json"

# Columns between the stages. kind: "row" (to classify), "bad" (malformed; reason in `bad`),
# "file" (one per shard read: carries its count of blank lines, which are not rows).
_PASS = ("kind", "where", "bad", "blank")


@dataclass
class Shards:
    """Input shards ``(absolute path, name, format)`` and files of directories that are not shards.

    ``name`` is the path as ``mlnews classify`` would spell it (from the INPUT argument): it starts
    every ``file:line`` id and report line, so both paths give the same ids.
    """

    files: list[tuple[str, str, str]]
    ignored: list[str] = field(default_factory=list)


def find_shards(inputs: Sequence[str]) -> Shards:
    """Expand INPUT arguments into shards with :func:`mlnews.ingest.inputs.resolve_inputs` (the rule every
    command shares), checking every path up front; files of directories that are not read go to ``ignored``."""
    ignored: list[str] = []
    files = [(str(Path(src).resolve()), src, fmt) for src, fmt in resolve_inputs(inputs, ignored=ignored, stdin=False)]
    return Shards(files, ignored)


def iter_shard(path: str, fmt: str, cols: Columns, stats: ReadStats) -> Iterator[Row | BadRow]:
    """Rows of one shard; a whole-file problem (e.g. a CSV header without the text column) is one bad row."""
    try:
        yield from iter_source_rows(path, fmt, cols, stats)
    except InputError as exc:
        yield BadRow(path, str(exc).removeprefix(f"{path}: ").removeprefix(f"{path}:1: "))
    except OSError as exc:
        yield BadRow(path, f"unreadable file ({exc.strerror or exc})")


# ----------------------------------------------------------------------------------- Ray stages


def _stage_schema(top_k: bool) -> Any:
    import pyarrow as pa

    fields = [
        ("id", pa.string()), ("text", pa.string()), ("label", pa.string()), ("score", pa.float64()),
    ]
    if top_k:
        fields.append(("top_k", pa.list_(pa.struct([("label", pa.string()), ("score", pa.float64())]))))
    return pa.schema(fields)


def read_shards(batch: dict[str, Any], spec: Columns, strict: bool) -> Iterator[dict[str, list]]:
    """Ray ``map_batches`` function: shard paths -> blocks of rows (kind/where/bad/blank + row fields)."""
    names = ("kind", "where", "bad", "blank", "id", "text", "lead", "body")
    cols: dict[str, list] = {k: [] for k in names}

    def add(kind: str, where: str, bad: str = "", blank: int = 0, row: Row | None = None) -> None:
        values = (kind, where, bad, blank, row.id if row else "", row.text if row else "",
                  row.lead if row else "", row.body if row else "")
        for k, v in zip(names, values):
            cols[k].append(v)

    for path, name, fmt in zip(batch["path"], batch["name"], batch["format"]):
        path, name, stats = str(path), str(name), ReadStats()
        for item in iter_shard(path, str(fmt), spec, stats):
            if item.where.startswith(path):  # name rows as the user named the file (ids match mlnews classify)
                where = name + item.where[len(path):]
                if isinstance(item, Row) and item.id == item.where:
                    item.id = where
                item.where = where
            if isinstance(item, BadRow):
                if strict:
                    raise InputError(f"{item} (--strict)")
                add("bad", item.where, bad=item.reason)
            else:
                add("row", item.where, row=item)
            if len(cols["kind"]) >= READ_ROWS:
                yield cols
                cols = {k: [] for k in names}
        add("file", name, blank=stats.blank_lines)
    if cols["kind"]:
        yield cols


class ClassifyActor:
    """Ray actor: loads the model folder once, then classifies batches of rows (others pass through)."""

    def __init__(
        self, model_dir: str, backend: str, batch_size: int, top_k: int | None, min_score: float | None,
        threads: int | None = None,
    ) -> None:
        import sys

        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from mlnews.infer.classifier import Classifier

        self.clf = Classifier.load(model_dir, backend=backend, batch_size=batch_size)
        if threads and "torch" in sys.modules:  # a torch backend; TF-IDF and static folders never import torch
            import torch

            torch.set_num_threads(threads)
        if "transformers" in sys.modules:
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
        self.batch_size = batch_size
        self.top_k = top_k
        self.min_score = min_score

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        from mlnews.infer.stream import predict_in_order

        data = batch.to_pydict()
        n = len(data["kind"])
        rows = [Row(id=data["id"][i], text=data["text"][i], where=data["where"][i],
                    lead=data["lead"][i], body=data["body"][i]) for i in range(n) if data["kind"][i] == "row"]
        k = self.top_k or 1

        def predict(chunk: list[Row]) -> list[dict]:
            return self.clf.predict([r.text for r in chunk], top_k=k,
                                    leads=[r.lead for r in chunk], bodies=[r.body for r in chunk])

        preds = iter(p for _, p in predict_in_order(rows, predict, batch_size=self.batch_size))
        out: dict[str, list] = {c: [] for c in ("id", "text", "label", "score", "top_k", *_PASS)}
        for i in range(n):
            for c in _PASS:
                out[c].append(data[c][i])
            if data["kind"][i] != "row":
                for c, v in (("id", data["id"][i]), ("text", ""), ("label", None), ("score", None), ("top_k", None)):
                    out[c].append(v)
                continue
            rec = prediction_record(data["id"][i], data["text"][i], next(preds), top_k=bool(self.top_k),
                                    min_score=self.min_score)
            for c in ("id", "text", "label", "score", "top_k"):
                out[c].append(rec.get(c))
        schema = _stage_schema(True)
        for name, typ in (("kind", pa.string()), ("where", pa.string()), ("bad", pa.string()), ("blank", pa.int64())):
            schema = schema.append(pa.field(name, typ))
        return pa.Table.from_pydict(out, schema=schema)


def _sink_cls() -> type:
    """:class:`ShardSink` subclasses Ray's ``Datasink``, so it is built on first use (ray is optional)."""
    from ray.data import Datasink

    class ShardSink(Datasink):
        """Writes the classified rows as ``part-NNNNN`` shards and the malformed ones as ``_skipped-NNNNN.jsonl``.

        Each write task returns its counts (and its first malformed rows) to the driver.
        """

        def __init__(self, out_dir: str, fmt: str, fields: list[str], rows_per_shard: int) -> None:
            self.out_dir = out_dir
            self.fmt = fmt
            self.fields = fields
            self.rows_per_shard = rows_per_shard

        @property
        def min_rows_per_write(self) -> int:
            return self.rows_per_shard

        def write(self, blocks: Any, ctx: Any) -> dict[str, Any]:
            import pyarrow as pa

            from mlnews.infer.stream import RecordWriter

            res: dict[str, Any] = {"rows_in": 0, "rows_out": 0, "skipped": Counter(), "blank": 0, "files": 0,
                                   "listed": [], "shards": []}
            name = f"part-{ctx.task_idx:05d}.{self.fmt}"
            path = os.path.join(self.out_dir, name)
            bad_path = os.path.join(self.out_dir, f"_skipped-{ctx.task_idx:05d}.jsonl")
            writer = pq_writer = bad_writer = None
            full = _stage_schema("top_k" in self.fields)
            schema = pa.schema([full.field(f) for f in self.fields])
            try:
                for block in blocks:
                    kinds = block.column("kind").to_pylist()
                    if "row" in kinds:
                        good = block.filter([k == "row" for k in kinds]).select(self.fields).cast(schema)
                        if self.fmt == "parquet":
                            if pq_writer is None:
                                import pyarrow.parquet as pq

                                pq_writer = pq.ParquetWriter(path, schema)
                            pq_writer.write_table(good)
                        else:
                            if writer is None:
                                writer = RecordWriter(path, self.fields).__enter__()
                            for rec in good.to_pylist():
                                writer.write(rec)
                        res["rows_out"] += good.num_rows
                    wheres, bads, blanks = (block.column(c).to_pylist() for c in ("where", "bad", "blank"))
                    for kind, where, bad, blank in zip(kinds, wheres, bads, blanks):
                        if kind == "file":
                            res["files"] += 1
                            res["blank"] += blank
                            continue
                        res["rows_in"] += 1
                        if kind == "bad":
                            res["skipped"][reason_kind(bad)] += 1
                            if len(res["listed"]) < MAX_LISTED:
                                res["listed"].append([where, bad])
                            if bad_writer is None:
                                bad_writer = RecordWriter(bad_path, ["where", "reason"]).__enter__()
                            bad_writer.write({"where": where, "reason": bad})
            finally:
                for w in (writer, bad_writer):
                    if w is not None:
                        w.__exit__(None, None, None)
                if pq_writer is not None:
                    pq_writer.close()
            if res["rows_out"]:
                res["shards"].append([name, res["rows_out"]])
            return res

        def on_write_complete(self, write_result: Any) -> None:
            self.results = list(write_result.write_returns)

    return ShardSink


# ----------------------------------------------------------------------------------- driver


@dataclass
class DistResult(ReadStats):
    """What a distributed run did: the local path's counters (``rows_in == rows_out + n_skipped``) plus shards."""

    files: int = 0
    ignored: list[str] = field(default_factory=list)
    listed: list[tuple[str, str]] = field(default_factory=list)
    shards: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in, "rows_out": self.rows_out, "rows_skipped": self.n_skipped,
            "skipped_by_reason": dict(self.skipped.most_common()), "blank_lines": self.blank_lines,
            "input_files": self.files, "ignored_files": self.ignored,
            "first_skipped": [{"where": w, "reason": r} for w, r in self.listed],
            "shards": [{"file": n, "rows": r} for n, r in self.shards],
            "workers": self.workers, "seconds": round(self.seconds, 2),
        }


def init_ray(address: str | None = None, num_cpus: int | None = None, object_store_mb: int = 512) -> bool:
    """Connect to ``address`` or start a local Ray (no dashboard, capped object store); True if we started it."""
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR",
                              "configure_logging": True}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, object_store_memory=object_store_mb * 1024 * 1024, **kwargs)
    return True


def _user_error(exc: BaseException) -> MlnewsError | None:
    """The :class:`MlnewsError` raised inside a Ray task, if that is what failed (Ray wraps it)."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, MlnewsError) and type(e).__module__ == "mlnews.errors":
            return type(e)(str(e).splitlines()[0])  # Ray appends its retry advice on further lines
        todo += [getattr(e, "cause", None), e.__cause__, e.__context__]
    return None


def classify_dist(
    inputs: Sequence[str],
    model_dir: str,
    out_dir: str | os.PathLike,
    *,
    spec: Columns | None = None,
    out_format: str = "jsonl",
    top_k: int | None = None,
    min_score: float | None = None,
    no_text: bool = False,
    batch_size: int = 32,
    workers: int = 1,
    cpus_per_worker: float = 1.0,
    backend: str = "auto",
    strict: bool = False,
    rows_per_shard: int = 100_000,
    address: str | None = None,
    object_store_mb: int = 512,
    progress: bool = False,
) -> DistResult:
    """Classify every row of the INPUT shards on Ray and write sharded output into ``out_dir``.

    ``out_dir`` must be new or empty; it appears only when the run succeeded (built under a temporary
    name beside it). Raises :class:`InputError` for bad arguments and, with ``strict``, for the first
    malformed row.
    """
    from mlnews.io import atomic_dir, write_json
    from mlnews.modelfolder import ModelFolder

    if out_format not in OUTPUT_FORMATS:
        raise InputError(f"--format {out_format!r}: expected jsonl or parquet")
    if workers < 1:
        raise InputError(f"--workers {workers}: expected 1 or more")
    if backend not in BACKENDS:
        raise InputError(f"--backend {backend!r}: expected {', '.join(BACKENDS)}")
    spec = spec or Columns()
    shards = find_shards(inputs)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out}: exists and is not an empty folder; choose a new folder")
    model_path = Path(model_dir).resolve()
    ModelFolder.open(model_path, task="classification")  # a missing/broken model folder fails here, before Ray starts

    import ray
    from ray.data import ActorPoolStrategy, DataContext, TaskPoolStrategy

    started = init_ray(address, object_store_mb=object_store_mb)
    try:
        import logging

        # Ray Data logs every execution plan (INFO) and every task error (ERROR, with Ray's own stack):
        # our summary and the one-line error are the user's view; set MLNEWS_DEBUG=1 to keep Ray's logs.
        if not os.environ.get("MLNEWS_DEBUG"):
            logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        ctx = DataContext.get_current()
        ctx.enable_progress_bars = progress
        ctx.execution_options.preserve_order = True  # the same input gives the same shards
        fields = output_fields(no_text=no_text, top_k=bool(top_k))
        result = DistResult(ignored=list(shards.ignored), workers=workers)
        t0 = time.perf_counter()
        with atomic_dir(out) as tmp:
            ds = ray.data.from_items(
                [{"path": p, "name": n, "format": f} for p, n, f in shards.files], override_num_blocks=len(shards.files)
            )
            # Reading and writing reserve no CPU (the actors hold the cores; a reservation here could leave
            # no room for them on a small machine) and are capped instead.
            io_tasks = min(max(2, workers), len(shards.files))
            ds = ds.map_batches(read_shards, fn_kwargs={"spec": spec, "strict": strict}, batch_size=1,
                                num_cpus=0, compute=TaskPoolStrategy(size=io_tasks))
            ds = ds.map_batches(
                ClassifyActor,
                fn_constructor_kwargs={"model_dir": str(model_path), "backend": backend, "batch_size": batch_size,
                                       "top_k": top_k, "min_score": min_score,
                                       "threads": max(1, int(cpus_per_worker))},
                batch_size=max(batch_size * 32, 1024),
                batch_format="pyarrow",
                compute=ActorPoolStrategy(size=workers),
                num_cpus=cpus_per_worker,
            )
            sink = _sink_cls()(str(tmp), out_format, fields, rows_per_shard)
            try:
                ds.write_datasink(sink, ray_remote_args={"num_cpus": 0})
            except Exception as exc:  # noqa: BLE001 - Ray wraps task errors; show ours as one line
                user = _user_error(exc)
                if user is not None:
                    raise user from None
                raise
            for res in _write_returns(sink):
                result.rows_in += res["rows_in"]
                result.rows_out += res["rows_out"]
                result.skipped.update(res["skipped"])
                result.blank_lines += res["blank"]
                result.files += res["files"]
                result.listed += [tuple(x) for x in res["listed"]]
                result.shards += [tuple(x) for x in res["shards"]]
            result.listed = result.listed[:MAX_LISTED]
            result.seconds = time.perf_counter() - t0
            if result.rows_in != result.rows_out + result.n_skipped or result.files != len(shards.files):
                raise RuntimeError(
                    f"row accounting broken: in {result.rows_in}, out {result.rows_out}, skipped {result.n_skipped}, "
                    f"files {result.files}/{len(shards.files)}"
                )
            summary = {"model": str(model_dir), "inputs": list(inputs), "format": out_format, **result.to_dict()}
            write_json(tmp / SUMMARY, summary)
        return result
    finally:
        if started:
            ray.shutdown()


def _write_returns(sink: Any) -> list[dict[str, Any]]:
    return list(getattr(sink, "results", []))
