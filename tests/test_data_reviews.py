"""``type: review`` sources in ``mlnews data build``: reviewed labels override, rows keep their split, stats count them."""

from __future__ import annotations

import json

import pytest

from mlnews.data import build_dataset
from mlnews.data.reviews import ReviewRecord, text_hash
from mlnews.errors import ConfigError, InputError
from tests.test_data_build import rows_by_id, write_config, write_corpus


def _rec(rid, text, label, who="anna", t="2026-12-01T10:00:00+00:00", old=None):
    return ReviewRecord(rid, text_hash(text), old, label, who, t)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("reviews")
    write_corpus(root)
    base = root / "base"
    build_dataset(write_config(root), base)
    rows = rows_by_id(base)
    test_row = next(r for r in rows.values() if r["split"] == "test" and r["source"] == "portal")
    new_test_label = "science" if test_row["label"] != "science" else "economy"
    heads = {json.loads(line)["id"]: json.loads(line) for line in (root / "headlines.jsonl").read_text().splitlines()
             if line.startswith("{\"")}
    records = [
        _rec("h3", rows["h3"]["text"], "economy"),
        _rec("h3", rows["h3"]["text"], "science", who="boris", t="2026-12-01T11:00:00+00:00"),  # later: wins
        _rec(test_row["id"], test_row["text"], new_test_label),
        _rec("u-none", heads["u-none"]["title"], "society"),  # dropped below the weak threshold: kept by the review
        _rec("h5", "a text that has changed since", "economy"),  # stale: same id, other text
        _rec("another-export-7", rows["h7"]["text"], "science"),  # matched by the text hash
        _rec("zzz", "no such row", "sports"),  # matches nothing
    ]
    review = root / "review.jsonl"
    review.write_bytes(b"".join(r.to_line() for r in records) + b'{"id": "h9", "text_sh')  # a torn last line
    sources = json.loads(json.dumps(__import__("yaml").safe_load((root / "data.yaml").read_text())["sources"]))
    reviewed = root / "reviewed"
    stats = build_dataset(write_config(root, sources=sources + [{"name": "fixes", "path": str(review), "type": "review"}]),
                          reviewed)
    return rows, test_row, new_test_label, reviewed, stats


def test_reviewed_labels_override_and_rows_keep_their_split(builds):
    base_rows, test_row, new_test_label, reviewed, stats = builds
    rows = rows_by_id(reviewed)
    assert rows["h3"]["label"] == "science" and rows["h3"]["label_origin"] == "reviewed"
    assert rows["h3"]["confidence"] == 1.0
    assert rows[test_row["id"]]["label"] == new_test_label and rows[test_row["id"]]["split"] == "test"
    assert rows["h7"]["label"] == "science" and rows["h7"]["label_origin"] == "reviewed"
    assert rows["h5"]["label"] == base_rows["h5"]["label"] and rows["h5"]["label_origin"] == base_rows["h5"]["label_origin"]  # stale
    assert "u-none" not in base_rows and rows["u-none"]["label"] == "society" and rows["u-none"]["split"] != "test"
    # no leak: every row of the first build is in the same split (and only the reviewed ones changed label)
    assert {k: r["split"] for k, r in rows.items() if k in base_rows} == {k: r["split"] for k, r in base_rows.items()}
    changed = {k for k, r in base_rows.items() if rows[k]["label"] != r["label"]}
    assert changed <= {"h3", test_row["id"], "h7"}
    r = stats["reviews"]
    assert (r["records"], r["torn_lines"], r["conflicts"], r["rows_decided"]) == (7, 1, 1, 6)
    assert (r["matched_by_id"], r["matched_by_text"], r["stale"], r["unmatched"]) == (3, 1, 1, 2)  # unmatched: zzz, h5
    assert r["rows_relabelled"] == 4 and r["kept_by_review"] == 1 and r["by_split"]["test"] == 1
    md = (reviewed / "stats.md").read_text()
    assert "## Reviewed labels" in md and "conflicts (records disagreeing on a row, latest time wins): 1" in md
    assert any(x["label_origin"] == "reviewed" for x in stats["classification"]["rows"])
    assert "origin reviewed" in (reviewed / "README.md").read_text()


def test_review_source_errors(tmp_path):
    write_corpus(tmp_path)
    review = tmp_path / "r.jsonl"
    review.write_bytes(_rec("h1", "x", "sports").to_line() + _rec("h2", "y", "not-a-label").to_line())
    base = json.loads(json.dumps(__import__("yaml").safe_load(write_config(tmp_path).read_text())["sources"]))
    cfg = write_config(tmp_path, sources=base + [{"name": "fixes", "path": str(review), "type": "review"}])
    with pytest.raises(InputError, match=r"r\.jsonl:2: new_label 'not-a-label' is not a label of the taxonomy"):
        build_dataset(cfg, tmp_path / "out")
    cfg = write_config(tmp_path, sources=base + [{"name": "fixes", "path": str(review), "type": "review", "split": "test"}])
    with pytest.raises(ConfigError, match=r"sources\[2\]\.split: does not apply to a review source"):
        build_dataset(cfg, tmp_path / "out")
