"""The review page's API (every endpoint, through TestClient), the review file and the CLI's --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlnews.data.reviews import ReviewLog, ReviewRecord, read_reviews, resolve_reviews, text_hash
from mlnews.errors import InputError
from tests.infer_helpers import tiny_tfidf_dir

XSS = '<script>window.__xss = 1</script> Центробанк снизил ключевую ставку'


def _rows(path: Path) -> Path:
    rows = [
        {"id": "h1", "text": XSS, "label": "economy", "lang": "ru", "source": "wire"},
        {"id": "h2", "text": "Сборная России по футболу проиграла в товарищеском матче", "label": "sports", "lang": "ru",
         "source": "wire"},
        {"id": "h3", "text": "Збірна України з футболу перемогла у відборі", "label": "politics", "lang": "uk",
         "source": "tsn"},
        {"id": "h4", "text": "Курс гривні до долара знизився", "lang": "uk", "source": "tsn"},
        {"id": "a1", "text": "Врачи рассказали о пользе прогулок",
         "body": "Врачи рассказали о пользе прогулок. Ходить нужно каждый день. Лучше всего утром. "
                 "Так считают специалисты клиники. Исследование шло три года.", "label": "society", "lang": "ru",
         "source": "wire"},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_tfidf_dir(tmp_path_factory.mktemp("review") / "model")


def _client(model: Path, tmp_path: Path, keys=()):
    from fastapi.testclient import TestClient

    from mlnews.review import ReviewSession, create_review_app

    session = ReviewSession(model, str(_rows(tmp_path / "rows.jsonl")), tmp_path / "reviews.jsonl", "anna")
    return TestClient(create_review_app(session, api_keys=keys)), session


def test_every_endpoint(model, tmp_path):
    c, session = _client(model, tmp_path)
    page = c.get("/")
    assert page.status_code == 200 and "static/review.js" in page.text and "<script>window" not in page.text
    assert c.get("/static/review.js").headers["content-type"].startswith("application/javascript")
    assert "textContent" in c.get("/static/review.js").text and "innerHTML" not in c.get("/static/review.js").text
    assert c.get("/static/review.css").status_code == 200
    assert c.get("/static/other.js").status_code == 404
    assert c.get("/ready").json()["ready"] is True and c.get("/health").json()["rows"] == 5

    meta = c.get("/api/meta").json()
    labels = meta["labels"]
    assert meta["rows"] == 5 and meta["reviewer"] == "anna" and set(meta["filters"]["lang"]) == {"ru", "uk"}
    assert meta["filters"]["gold"] == sorted({"economy", "sports", "politics", "society", "-"})

    listed = c.get("/api/rows").json()
    assert listed["total"] == 5
    margins = [r["margin"] for r in listed["rows"]]
    assert margins == sorted(margins)  # least sure first
    for r in listed["rows"]:
        top = r["top_k"]
        assert r["pred"] == top[0]["label"] and r["margin"] == pytest.approx(top[0]["score"] - top[1]["score"], abs=1e-5)
    assert c.get("/api/rows", params={"lang": "uk"}).json()["total"] == 2
    assert c.get("/api/rows", params={"source": "wire", "gold": "sports"}).json()["total"] == 1
    assert c.get("/api/rows", params={"gold": "-"}).json()["rows"][0]["id"] == "h4"
    assert c.get("/api/rows", params={"origin": "gold"}).json()["total"] == 4
    assert c.get("/api/rows", params={"colour": "x"}).status_code == 422
    assert c.get("/api/rows", params={"limit": 0}).status_code == 422

    conf = c.get("/api/confusion").json()
    assert conf["labels"] == labels
    assert conf["gold_labels"] == labels + ["society"]  # a gold label the model does not have gets a row too
    assert sum(map(sum, conf["matrix"])) == 4 and sum(conf["no_gold"]) == 1
    g, p = labels.index("sports"), labels.index(session.rows[[r.id for r in session.rows].index("h2")].pred)
    assert conf["matrix"][g][p] >= 1
    narrowed = c.get("/api/rows", params={"gold": "sports", "pred": labels[p]}).json()
    assert [r["id"] for r in narrowed["rows"]] == ["h2"]

    art = next(r for r in listed["rows"] if r["id"] == "a1")
    detail = c.get(f"/api/rows/{art['idx']}").json()
    assert detail["summary"]["method"] == "lead-3" and detail["summary"]["indices"] == [0, 1, 2]
    assert detail["summary"]["sentences"][0] == "Врачи рассказали о пользе прогулок."
    assert c.get(f"/api/rows/{next(r for r in listed['rows'] if r['id'] == 'h2')['idx']}").json()["summary"] is None
    assert c.get("/api/rows/99").status_code == 404

    h1 = next(r for r in listed["rows"] if r["id"] == "h1")
    assert h1["text"] == XSS  # given as data, shown with textContent (the browser test sees it as text)
    res = c.post("/api/review", json={"idx": h1["idx"], "label": "sports"}).json()
    assert res["row"]["gold"] == "sports" and res["row"]["origin"] == "reviewed"
    assert c.post("/api/review", json={"idx": h1["idx"], "label": "nope"}).status_code == 422
    assert c.post("/api/review", json={"idx": 99, "label": "sports"}).status_code == 404
    assert c.post("/api/review", json={"idx": h1["idx"]}).status_code == 422
    recs = c.get("/api/reviews").json()
    assert recs["torn"] == 0 and len(recs["records"]) == 1
    rec = recs["records"][0]
    assert rec == res["record"]
    assert (rec["id"], rec["old_label"], rec["new_label"], rec["origin"], rec["reviewer"]) == \
        ("h1", "economy", "sports", "reviewed", "anna")
    assert rec["text_sha256"] == text_hash(XSS) and rec["time"].endswith("+00:00")


def test_api_key_guards_the_api_not_the_page_shell(model, tmp_path):
    c, _ = _client(model, tmp_path, keys=["k" * 20])
    assert c.get("/").status_code == 200 and c.get("/static/review.js").status_code == 200
    assert c.get("/api/meta").status_code == 401
    assert c.post("/api/review", json={"idx": 0, "label": "sports"}).status_code == 401
    assert c.get("/api/meta", headers={"x-api-key": "k" * 20}).status_code == 200
    assert c.get("/api/rows", headers={"authorization": "Bearer " + "k" * 20}).status_code == 200


def test_second_reviewer_appends_and_a_restart_shows_the_latest(model, tmp_path):
    c, session = _client(model, tmp_path)
    idx = next(r.idx for r in session.rows if r.id == "h2")
    c.post("/api/review", json={"idx": idx, "label": "economy"})
    session.reviewer = "boris"
    c.post("/api/review", json={"idx": idx, "label": "politics"})
    read = read_reviews(tmp_path / "reviews.jsonl")
    assert [(r.reviewer, r.new_label) for r in read.records] == [("anna", "economy"), ("boris", "politics")]
    resolved = resolve_reviews([read])
    assert resolved.conflicts == 1 and resolved.by_key[("h2", text_hash(session.rows[idx].text))].new_label == "politics"
    # a killed server's torn last line: counted, and the next record starts on a new line
    with open(tmp_path / "reviews.jsonl", "ab") as fh:
        fh.write(b'{"id": "h3", "text_sha')
    c2, s2 = _client(model, tmp_path)
    meta = c2.get("/api/meta").json()
    assert meta["torn_lines"] == 1 and meta["reviews_loaded"] == 1
    assert next(r for r in s2.rows if r.id == "h2").gold == "politics"
    c2.post("/api/review", json={"idx": 0, "label": "sports"})
    read = read_reviews(tmp_path / "reviews.jsonl")
    assert len(read.records) == 3 and read.torn == 1


def test_review_log_is_append_only_and_bad_records_name_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    log = ReviewLog(path)
    for label in ("a", "b"):
        log.append(ReviewRecord("x", text_hash("t"), None, label, "me", "2026-01-01T00:00:00+00:00"))
    assert path.read_text().count("\n") == 2
    path.write_text(path.read_text() + '{"id": "y", "text_sha256": "00", "reviewer": "me", "time": "now"}\n')
    with pytest.raises(InputError, match=r"r\.jsonl:3: field 'new_label'"):
        read_reviews(path)
    with pytest.raises(InputError, match="cannot read"):
        read_reviews(tmp_path / "missing.jsonl")


def test_cli_help_has_an_example(capsys):
    from tests.cli_runner import main

    with pytest.raises(SystemExit) as exit:
        main(["review", "--help"])
    out = capsys.readouterr().out
    assert exit.value.code == 0 and "Example:" in out and "127.0.0.1" in out and "--reviewer" in out


def test_malformed_input_rows_are_reported_not_dropped_silently(tmp_path):
    from mlnews.review.rows import load_rows

    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": "x", "text": "Курс рубля упал"}\n{"text": \n', encoding="utf-8")
    rows, skipped = load_rows(str(path))
    assert [r.id for r in rows] == ["x"] and len(skipped) == 1 and skipped[0].startswith(f"{path}:2: ")
    path.write_text('{"text": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"no rows to review \(1 malformed rows skipped; the first: .*:1: "):
        load_rows(str(path))
