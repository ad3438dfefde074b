"""``mlnews classify-dist`` (Ray Data): shard discovery and reading run in every CI; the Ray runs are slow.

The Ray tests (``-m slow``, skipped when ray is not installed) start Ray once on this machine and check
that the distributed path gives exactly the labels, ids and accounting of the local ``mlnews classify``
on the same 1,000 rows, that a malformed shard is reported and counted without stopping the others,
that ``--strict`` stops with a one-line error and writes nothing, and that Parquet output holds the
same rows as JSONL output.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from infer_helpers import LABELS, labelled_headlines, tiny_tfidf_dir, tiny_transformer_dir
from mlnews.errors import InputError
from mlnews.infer.distributed import find_shards, iter_shard
from mlnews.ingest.inputs import BadRow, Columns, ReadStats, Row, iter_rows, iter_source_rows


def iter_parquet(path: str, cols: Columns):
    return iter_source_rows(path, "parquet", cols, ReadStats())


def write_jsonl(path: Path, recs: list, extra_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in recs]
    for pos, raw in sorted((extra_lines or {}).items()):
        lines.insert(pos, raw)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def headline_rows(n: int, seed: int, prefix: str) -> list[dict]:
    rng = random.Random(seed)
    heads = [t for t, _ in labelled_headlines()]
    return [{"title": f"{rng.choice(heads)} {rng.choice(heads).split()[0]}", "uid": f"{prefix}{i}"} for i in range(n)]


def write_parquet(path: Path, recs: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(recs), path)
    return path


# ------------------------------------------------------------------------------ no Ray needed


def test_find_shards_walks_directories_and_reports_other_files(tmp_path: Path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    write_jsonl(d / "a.jsonl", [{"text": "x"}])
    write_jsonl(d / "sub" / "b.json", [{"text": "y"}])
    write_parquet(d / "c.parquet", [{"text": "z"}])
    (d / "_SUCCESS").write_text("")
    (d / ".hidden.jsonl").write_text("")
    (d / "README.md").write_text("notes")
    shards = find_shards([str(d)])
    assert [(Path(p).name, name, fmt) for p, name, fmt in shards.files] == [
        ("a.jsonl", str(d / "a.jsonl"), "jsonl"), ("c.parquet", str(d / "c.parquet"), "parquet"),
        ("b.json", str(d / "sub" / "b.json"), "jsonl")]
    assert all(Path(p).is_absolute() for p, _, _ in shards.files)
    assert shards.ignored == [str(d / "README.md")]


@pytest.mark.parametrize("arg, message", [
    ("missing", r"missing: no such file or directory"),
    ("notes.md", r"notes\.md: cannot tell the format from the extension '\.md'"),
    ("empty", r"empty: directory has no page files or shards"),
    ("-", r"not stdin"),
])
def test_find_shards_errors_name_the_argument(tmp_path: Path, monkeypatch, arg: str, message: str):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.md").write_text("x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=message):
        find_shards([arg])


def test_parquet_rows_are_validated_like_jsonl_records(tmp_path: Path):
    recs = [{"title": "Курс рубля", "uid": "a"}, {"title": None, "uid": "b"}, {"title": "  ", "uid": "c"},
            {"title": "Матч", "uid": None}]
    path = write_parquet(tmp_path / "x.parquet", recs)
    jsonl = write_jsonl(tmp_path / "x.jsonl", recs)
    spec = Columns(text="title", id="uid")
    from_parquet = list(iter_parquet(str(path), spec))
    from_jsonl = list(iter_rows([str(jsonl)], spec))
    assert len(from_parquet) == len(from_jsonl) == 4
    for a, b in zip(from_parquet, from_jsonl):
        assert type(a) is type(b)
        if isinstance(a, Row):
            assert (a.text, a.id) == (b.text, b.id.replace("x.jsonl", "x.parquet"))
        else:
            assert a.reason == b.reason
    assert from_parquet[0].where == f"{path}:1" and from_parquet[3].id == f"{path}:4"  # null id -> file:N


def test_unreadable_parquet_is_one_bad_row_naming_the_file(tmp_path: Path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    items = list(iter_parquet(str(path), Columns()))
    assert len(items) == 1 and isinstance(items[0], BadRow)
    assert items[0].where == str(path) and items[0].reason.startswith("unreadable Parquet file (")


def test_a_missing_text_field_in_parquet_is_counted_per_row(tmp_path: Path):
    path = write_parquet(tmp_path / "x.parquet", [{"headline": "a"}, {"headline": "b"}])
    items = list(iter_parquet(str(path), Columns(text="title")))
    assert [str(i) for i in items] == [f"{path}:1: missing field 'title'", f"{path}:2: missing field 'title'"]


def test_jsonl_shard_reads_like_the_local_reader(tmp_path: Path):
    path = write_jsonl(tmp_path / "a.jsonl", headline_rows(20, 1, "u"), {3: "{broken", 9: ""})
    spec = Columns(text="title")
    stats = ReadStats()
    got = [(type(i).__name__, i.where) for i in iter_shard(str(path), "jsonl", spec, stats)]
    want = [(type(i).__name__, i.where) for i in iter_rows([str(path)], spec)]
    assert got == want and stats.blank_lines == 1


# ------------------------------------------------------------------------------ Ray (slow)


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="ray is an optional extra: pip install 'mlnews[ray]'")
    from mlnews.infer.distributed import init_ray

    started = init_ray(num_cpus=2, object_store_mb=256)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"tfidf": tiny_tfidf_dir(root / "tfidf"), "transformer": tiny_transformer_dir(root / "bert")}


@pytest.fixture(scope="module")
def thousand(tmp_path_factory) -> Path:
    """1,000 rows in three shards: two JSONL and one Parquet."""
    d = tmp_path_factory.mktemp("thousand") / "in"
    d.mkdir()
    write_jsonl(d / "a.jsonl", headline_rows(400, 1, "a"))
    write_jsonl(d / "b.jsonl", headline_rows(400, 2, "b"))
    write_parquet(d / "c.parquet", headline_rows(200, 3, "c"))
    return d


def read_out(out: Path) -> dict[str, dict]:
    rows = {}
    for part in sorted(out.glob("part-*.jsonl")):
        for line in part.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            assert rec["id"] not in rows, f"duplicate id {rec['id']}"
            rows[rec["id"]] = rec
    return rows


def local_classify(model: Path, inputs: list[Path], out: Path, capsys, *extra: str) -> dict[str, dict]:
    from cli_runner import main

    with pytest.raises(SystemExit) as exc:
        main(["classify", "-m", str(model), *map(str, inputs), "--text-field", "title", "--id-field", "uid",
              "-o", str(out), "-q", *extra])
    assert exc.value.code == 0, capsys.readouterr().err
    return {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tfidf", "transformer"])
def test_ray_gives_the_local_labels_on_1000_rows(ray_local, models, thousand, tmp_path, capsys, kind):
    from mlnews.infer.distributed import classify_dist

    res = classify_dist([str(thousand)], str(models[kind]), tmp_path / "out", spec=Columns(text="title", id="uid"),
                        top_k=2, batch_size=16, workers=2, rows_per_shard=300)
    assert (res.rows_in, res.rows_out, res.n_skipped, res.files) == (1000, 1000, 0, 3)
    dist = read_out(tmp_path / "out")
    assert len(dist) == 1000 and sum(n for _, n in res.shards) == 1000

    # local mlnews classify reads JSONL only: give it the Parquet shard's rows as JSONL with the same ids
    import pyarrow.parquet as pq

    c = write_jsonl(tmp_path / "c.jsonl", pq.read_table(thousand / "c.parquet").to_pylist())
    local = local_classify(models[kind], [thousand / "a.jsonl", thousand / "b.jsonl", c], tmp_path / "local.jsonl", capsys,
                           "--top-k", "2", "--batch-size", "16")
    assert dist.keys() == local.keys()
    assert [dist[i]["label"] for i in local] == [local[i]["label"] for i in local]  # exactly the same labels
    assert all(dist[i]["text"] == local[i]["text"] for i in local)
    assert all(set(dist[i]) == set(local[i]) == {"id", "text", "label", "score", "top_k"} for i in local)
    assert max(abs(dist[i]["score"] - local[i]["score"]) for i in local) <= 1e-5
    assert all([t["label"] for t in dist[i]["top_k"]] == [t["label"] for t in local[i]["top_k"]] for i in local)
    assert {r["label"] for r in dist.values()} <= set(LABELS)
    summary = json.loads((tmp_path / "out" / "_summary.json").read_text(encoding="utf-8"))
    assert (summary["rows_in"], summary["rows_out"], summary["rows_skipped"]) == (1000, 1000, 0)


@pytest.mark.slow
def test_a_malformed_shard_is_reported_not_fatal(ray_local, models, tmp_path, capsys):
    from mlnews.infer.distributed import classify_dist

    d = tmp_path / "in"
    d.mkdir()
    write_jsonl(d / "good1.jsonl", headline_rows(120, 4, "g"))
    write_parquet(d / "good2.parquet", headline_rows(80, 5, "p"))
    write_jsonl(d / "broken.jsonl", headline_rows(10, 6, "x"), {2: "{not json", 5: '{"uid": "no-title"}', 7: ""})
    (d / "corrupt.parquet").write_bytes(b"PAR1 truncated garbage")
    res = classify_dist([str(d)], str(models["tfidf"]), tmp_path / "out", spec=Columns(text="title", id="uid"),
                        workers=2)
    assert res.files == 4
    assert res.rows_out == 120 + 80 + 10  # every good row of every shard, the broken one's included
    assert res.rows_in == res.rows_out + res.n_skipped and res.n_skipped == 3
    assert res.skipped == {"malformed JSON": 1, "missing field 'title'": 1, "unreadable Parquet file": 1}
    assert res.blank_lines == 1
    listed = {w for w, _ in res.listed}
    assert listed == {str(d / "corrupt.parquet"), f"{d / 'broken.jsonl'}:3", f"{d / 'broken.jsonl'}:6"}
    skipped = [json.loads(line) for f in sorted((tmp_path / "out").glob("_skipped-*.jsonl"))
               for line in f.read_text(encoding="utf-8").splitlines()]
    assert {s["where"] for s in skipped} == listed
    out_ids = set(read_out(tmp_path / "out"))
    assert {"g0", "g119", "p0", "p79", "x0", "x9"} <= out_ids and len(out_ids) == 210


@pytest.mark.slow
def test_strict_stops_at_the_first_malformed_row_and_writes_nothing(ray_local, models, tmp_path):
    from mlnews.infer.distributed import classify_dist

    d = tmp_path / "in"
    d.mkdir()
    write_jsonl(d / "a.jsonl", headline_rows(5, 7, "a"), {1: "{oops"})
    with pytest.raises(InputError, match=r"a\.jsonl:2: malformed JSON .*\(--strict\)$"):
        classify_dist([str(d)], str(models["tfidf"]), tmp_path / "out", spec=Columns(text="title"), strict=True)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], "temporary output folder removed"


@pytest.mark.slow
def test_parquet_output_holds_the_jsonl_rows(ray_local, models, thousand, tmp_path):
    import pyarrow.parquet as pq

    from mlnews.infer.distributed import classify_dist

    spec = Columns(text="title", id="uid")
    classify_dist([str(thousand)], str(models["tfidf"]), tmp_path / "pq", spec=spec, out_format="parquet", top_k=3)
    classify_dist([str(thousand)], str(models["tfidf"]), tmp_path / "js", spec=spec, top_k=3)
    table = pq.read_table(tmp_path / "pq", schema=None)  # a folder of part-*.parquet (pyarrow skips _summary.json)
    assert table.column_names == ["id", "text", "label", "score", "top_k"]
    assert {r["id"]: r for r in table.to_pylist()} == read_out(tmp_path / "js")


def test_cli_refuses_a_busy_out_dir_with_one_line(tmp_path, capsys):
    pytest.importorskip("ray", reason="ray is an optional extra: pip install 'mlnews[ray]'")
    from cli_runner import main

    write_jsonl(tmp_path / "a.jsonl", [{"text": "x"}])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    model = tiny_tfidf_dir(tmp_path / "m")
    with pytest.raises(SystemExit) as exc:
        main(["classify-dist", "-m", str(model), str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert "out: exists and is not an empty folder" in err


def test_the_ray_actor_reports_calibrated_scores(tmp_path: Path):
    """ClassifyActor (run here without Ray) loads the same Classifier: the folder's temperature is applied."""
    import pyarrow as pa

    from mlnews.infer.classifier import Classifier
    from mlnews.infer.distributed import ClassifyActor

    folder = tiny_tfidf_dir(tmp_path / "tfidf")
    manifest = json.loads((folder / "mlnews.json").read_text(encoding="utf-8"))
    manifest["calibration"] = {"method": "temperature", "temperature": 0.5, "fitted_on": "validation", "rows": 18}
    (folder / "mlnews.json").write_text(json.dumps(manifest), encoding="utf-8")
    texts = [t for t, _ in labelled_headlines()][:5]
    n = len(texts)
    batch = pa.table({"kind": ["row"] * n, "id": [str(i) for i in range(n)], "text": texts, "where": ["x"] * n,
                      "lead": [""] * n, "body": [""] * n, "bad": [None] * n, "blank": [0] * n})
    actor = ClassifyActor(str(folder), "auto", 4, None, None)
    assert actor.clf.calibrated
    scores = actor(batch).to_pydict()["score"]
    calibrated = [p["score"] for p in Classifier.load(folder).predict(texts)]
    raw = [p["score"] for p in Classifier.load(folder, calibrated=False).predict(texts)]
    assert scores == pytest.approx(calibrated, abs=1e-6) and scores != pytest.approx(raw, abs=1e-3)
