"""End-to-end dataset builds on a small synthetic corpus written by the tests, the sample and shared data."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from mlnews.data import build_dataset, ensure_dataset, export_parquet, label_names, load_built
from mlnews.errors import ConfigError, InputError
from mlnews.text import normalise_for_match

REPO = Path(__file__).resolve().parent.parent
TOPICS = {  # label -> (rubric used by the synthetic "portal" source, subjects, objects)
    "sports": ("Спорт", ["Футболисты", "Хоккеисты", "Сборная", "Тренер клуба"], ["матч чемпионата", "турнир", "кубок"]),
    "economy": ("Экономика", ["Центробанк", "Биржа", "Банк", "Минфин"], ["курс рубля", "ключевую ставку", "налоги"]),
    "science": ("Наука", ["Ученые", "Астрономы", "Врачи", "Биологи"], ["новый вирус", "планету", "ген"]),
    "society": ("Общество", ["Суд", "Полиция", "Депутаты", "Прокуратура"], ["закон", "арест", "выборы"]),
}
FILLER = ("утром вечером неожиданно снова впервые тихо громко быстро медленно далеко рядом вдруг опять "
          "вчера сегодня завтра весной летом осенью зимой").split()
UNLABELLED = [
    ("Футболисты сборной выиграли матч чемпионата", "sports"),
    ("Хоккеист забил победный гол в финале турнира", "sports"),
    ("Тренер клуба покинул команду после матча", "sports"),
    ("Центробанк повысил ключевую ставку из-за инфляции", "economy"),
    ("Курс рубля упал после решения биржи", "economy"),
    ("Налог на прибыль банков вырастет в следующем году", "economy"),
    ("Ученые обнаружили новую планету с помощью телескопа", "science"),
    ("Врачи назвали способ защиты от вируса", "science"),
    ("Астрономы увидели астероид рядом с Луной", "science"),
    ("Суд вынес приговор по делу об убийстве", "society"),
    ("Полиция задержала подозреваемых в мошенничестве", "society"),
    ("Депутаты приняли закон о выборах", "society"),
]
PLACES = ["в Москве", "в Казани", "в Омске", "в Сочи", "в Твери", "в Перми", "в Самаре", "в Туле"]


def _title(rng: random.Random, label: str) -> str:
    _, subj, obj = TOPICS[label]
    words = rng.sample(FILLER, 3)
    return f"{rng.choice(subj)} {rng.choice(PLACES)} {words[0]} обсудили {rng.choice(obj)} {words[1]} {words[2]} {rng.randrange(10**6)}"


def write_corpus(root: Path, seed: int = 0) -> dict:
    """~40 articles + ~220 headlines with known duplicates, bad rows and unlabelled rows."""
    rng = random.Random(seed)
    labels = list(TOPICS)
    arts, heads = [], []
    for i in range(40):
        lab = labels[i % 4]
        body = " ".join(_title(rng, lab) + "." for _ in range(4))
        arts.append({"id": f"a{i}", "source": "paper", "lang": "ru", "url": None, "title": _title(rng, lab),
                     "lead": f"Лид номер {i}: " + _title(rng, lab), "text": body, "label": lab,
                     "label_origin": "gold", "published": None})
    arts.append(dict(arts[0], id="a-exact", title=arts[0]["title"].upper() + "!!!"))  # exact duplicate title
    arts.append(dict(arts[1], id="a-near", title=arts[1]["title"] + " сообщили источники"))  # near duplicate
    arts.append(dict(arts[2], id="a-empty", title="", text="коротко"))  # empty title and body
    arts.append(dict(arts[3], id="a-en", title="Stocks rallied in London", lang="en"))  # wrong language
    for i in range(200):
        lab = labels[i % 4]
        heads.append({"id": f"h{i}", "source": "portal", "lang": "ru", "title": _title(rng, lab),
                      "label": TOPICS[lab][0], "label_origin": "gold", "published": None})
    heads.append({"id": "h-unmapped", "source": "portal", "lang": "ru", "title": "Разное о разном и всяком снова",
                  "label": "Разное", "label_origin": "gold", "published": None})
    for i, (title, _) in enumerate(UNLABELLED):  # keyword rules should label these
        heads.append({"id": f"u{i}", "source": "portal", "lang": "ru", "title": title, "label": None,
                      "label_origin": "none", "published": None})
    heads.append({"id": "u-none", "source": "portal", "lang": "ru", "title": "Что-то произошло где-то там",
                  "label": None, "label_origin": "none", "published": None})  # no keyword: below threshold
    (root / "articles.jsonl").write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in arts) + "\n",
                                        encoding="utf-8")
    lines = [json.dumps(h, ensure_ascii=False) for h in heads]
    lines.insert(5, "{broken json")
    (root / "headlines.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"articles": len(arts), "headlines": len(heads) + 1}


def write_config(root: Path, **changes) -> Path:
    cfg = {
        "name": "synthetic",
        "taxonomy": str(REPO / "configs/taxonomy/topics.yaml"),
        "mappings_file": str(REPO / "configs/ingest/shared_data.yaml"),
        "seed": 3,
        "sources": [
            {"name": "paper", "path": str(root / "articles.jsonl"), "mapping": "shared_articles",
             "label_origin": "gold", "lead_is_summary": False},
            {"name": "portal", "path": str(root / "headlines.jsonl"), "mapping": "shared_headlines",
             "label_map": "portal", "strict": False},
        ],
        "label_maps": {"portal": {v[0]: k for k, v in TOPICS.items()}},
        "weak": {"methods": ["rules"], "threshold": 0.6, "keywords_file": str(REPO / "configs/data/keywords.yaml")},
    }
    for key, value in changes.items():
        node = cfg
        *parents, last = key.split(".")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[last] = value
    path = root / "data.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    counts = write_corpus(root)
    cfg = write_config(root)
    out = root / "ds"
    stats = build_dataset(cfg, out)
    return root, cfg, out, stats, counts


def rows_by_id(out) -> dict[str, dict]:
    """Classification rows of a built folder by id, each with its ``split`` and decoded ``label``."""
    return {r["id"]: dict(r, split=s) for s, rs in _rows(load_built(out).classification).items() for r in rs}


def _rows(dd):
    """Rows of every split, ``label`` decoded to its name."""
    out = {}
    for s in dd:
        rows = dd[s].to_list()
        if "label" in dd[s].column_names:
            for r, name in zip(rows, label_names(dd[s])):
                r["label"] = name
        out[s] = rows
    return out


def test_layout_and_columns(built):
    _, _, out, stats, _ = built
    for name in ("classification", "summarisation", "labels.json", "stats.json", "stats.md", "build_config.yaml"):
        assert (out / name).exists(), name
    ds = load_built(out)
    assert set(ds.classification) == set(ds.summarisation) == {"train", "validation", "test"}
    assert ds.classification["train"].column_names == ["id", "text", "lead", "body", "label", "label_origin",
                                                       "confidence", "lang", "source", "kind", "group"]
    assert ds.summarisation["train"].column_names == ["id", "text", "title", "lead", "lang", "source", "group"]
    assert ds.labels.names[0] == "society" and ds.stats["name"] == "synthetic"
    assert not any(p.name.startswith(".") for p in out.parent.iterdir() if p.name.startswith(".ds"))


def test_every_row_is_accounted_for(built):
    _, _, _, stats, counts = built
    c, s = stats["classification"], stats["summarisation"]
    assert stats["input_rows"] == counts["articles"] + counts["headlines"]
    assert sum(c["splits"].values()) + sum(c["dropped"].values()) == stats["input_rows"]
    assert stats["input_articles"] == counts["articles"]
    assert sum(s["splits"].values()) + sum(s["dropped"].values()) == stats["input_articles"]
    assert c["dropped"]["malformed"] == 1
    assert c["dropped"]["duplicate"] == 1  # the upper-cased title
    assert c["dropped"]["empty"] == 1 and c["dropped"]["wrong_language"] == 1
    assert c["dropped"]["unmapped_label"] == 1 and c["dropped"]["below_threshold"] == 1
    assert stats["unmapped_labels"] == {"portal": {"Разное": 1}}
    assert sum(r["count"] for r in c["rows"]) == sum(c["splits"].values())
    assert "malformed JSON" in stats["malformed_examples"][0]


def test_weak_labels_origin_confidence_and_not_in_test(built):
    _, _, out, stats, _ = built
    rows = _rows(load_built(out).classification)
    weak = [r for split in rows.values() for r in split if r["label_origin"] == "weak"]
    assert stats["weak"]["labelled"]["rules"] == len(weak) == 12
    assert all(0.6 <= r["confidence"] < 1.0 for r in weak)
    # the rules recover the topic the synthetic headline was generated for
    want = {f"u{i}": lab for i, (_, lab) in enumerate(UNLABELLED)}
    assert {r["id"]: r["label"] for r in weak} == want
    assert all(r["label_origin"] != "weak" for r in rows["test"])
    assert {r["label_origin"] for split in rows.values() for r in split} == {"gold", "source_rubric", "weak"}
    assert all(r["confidence"] == 1.0 for split in rows.values() for r in split if r["label_origin"] != "weak")


def test_no_normalised_title_in_two_splits_and_near_duplicates_grouped(built):
    _, _, out, _, _ = built
    ds = load_built(out)
    seen: dict[str, str] = {}
    groups: dict[str, str] = {}
    for task in (ds.classification, ds.summarisation):
        key = "text" if task is ds.classification else "title"
        for split in task:
            for r in task[split]:
                t = normalise_for_match(r[key])
                assert seen.setdefault(t, split) == split, f"{r[key]!r} in {seen[t]} and {split}"
                assert groups.setdefault(r["group"], split) == split
    by_id = {r["id"]: r for split in _rows(ds.classification).values() for r in split}
    assert by_id["a-near"]["group"] == by_id["a1"]["group"]
    assert "a-exact" not in by_id
    assert len({r["group"] for r in by_id.values()}) == len(by_id) - 1


def test_summarisation_rows(built):
    _, _, out, _, _ = built
    rows = [r for split in _rows(load_built(out).summarisation).values() for r in split]
    assert rows and all(len(r["text"]) >= 200 and r["title"] for r in rows)
    assert all(r["lead"] == "" for r in rows)  # lead_is_summary: false for this source


def test_deterministic_by_seed(built, tmp_path):
    root, cfg, out, _, _ = built
    first = _rows(load_built(out).classification)
    again = build_dataset(cfg, tmp_path / "again")
    assert _rows(load_built(tmp_path / "again").classification) == first
    assert again["classification"]["splits"] == built[3]["classification"]["splits"]
    build_dataset(cfg, tmp_path / "other", ["seed=4"])
    other = _rows(load_built(tmp_path / "other").classification)
    assert {s: sorted(r["id"] for r in v) for s, v in other.items()} != {s: sorted(r["id"] for r in v) for s, v in first.items()}


def test_cap_per_source(tmp_path):
    write_corpus(tmp_path)
    cfg = write_config(tmp_path, **{"sources.1.cap": 50})
    stats = build_dataset(cfg, tmp_path / "ds")
    assert stats["capped"]["portal"] == stats["sources"]["portal"]["classification_dropped"]["capped"]
    assert stats["sources"]["portal"]["classification_kept"] == 50
    assert stats["sources"]["paper"]["classification_kept"] == 40 + 1  # the near-duplicate stays



def test_cap_by_override_addresses_the_source_by_name(tmp_path):
    write_corpus(tmp_path)
    stats = build_dataset(write_config(tmp_path), tmp_path / "ds", ["sources.portal.cap=30"])
    assert stats["sources"]["portal"]["classification_kept"] == 30


def test_source_with_a_fixed_split_is_held_out_with_its_duplicates(tmp_path):
    write_corpus(tmp_path)
    arts = [json.loads(line) for line in (tmp_path / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    near = {"id": "h-near-paper", "source": "portal", "lang": "ru", "title": arts[5]["title"] + " снова",
            "label": TOPICS[arts[5]["label"]][0], "label_origin": "gold", "published": None}
    with open(tmp_path / "headlines.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(near, ensure_ascii=False) + "\n")
    cfg = write_config(tmp_path, **{"sources.0.split": "test"})
    build_dataset(cfg, tmp_path / "ds")
    dd = load_built(tmp_path / "ds")
    where = {r["id"]: split for split, rows in _rows(dd.classification).items() for r in rows}
    paper = {i: s for i, s in where.items() if i.startswith("a")}
    assert len(paper) == 41 and set(paper.values()) == {"test"}
    assert where["h-near-paper"] == "test"  # grouped with a held-out article, so it follows it
    assert {s for i, s in where.items() if i.startswith("h") and i != "h-near-paper"} >= {"train", "validation"}
    summ = {r["id"]: split for split, rows in _rows(dd.summarisation).items() for r in rows}
    assert summ and set(summ.values()) == {"test"}
    with pytest.raises(ConfigError, match=r"sources\[0\]\.split: expected 'train' \| 'validation' \| 'test' \| null, got 'holdout'"):
        build_dataset(write_config(tmp_path, **{"sources.0.split": "holdout"}), tmp_path / "ds2")


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, r"colour: unknown key; allowed keys here: .*dedup"),
    ({"sources.0.path": "nope/missing.jsonl"}, r"sources\[0\]\.path: file 'nope/missing.jsonl' not found"),
    ({"label_maps": {"portal": {"Спорт": "sport"}}}, r"label_maps\.portal\.Спорт: 'sport' is not a label .*expected one of: society, economy"),
    ({"split": {"train": 0.8, "validation": 0.3, "test": 0.1}}, r"split: train \+ validation \+ test must sum to 1"),
    ({"sources.1.label_map": "nothing"}, r"sources\[1\]\.label_map: 'nothing' is not a table in label_maps; expected one of: portal"),
    ({"weak": {"methods": ["magic"]}}, r"weak\.methods\[0\]: 'magic' is not allowed; expected one of 'rules', 'tfidf'"),
])
def test_config_errors_are_one_line(tmp_path, change, message):
    write_corpus(tmp_path)
    cfg = write_config(tmp_path)
    data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    for key, value in change.items():
        node = data
        *parents, last = key.split(".")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[last] = value
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        build_dataset(cfg, tmp_path / "ds")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "ds").exists()


def test_cli_errors_and_overrides(tmp_path, capsys):
    from cli_runner import main

    write_corpus(tmp_path)
    cfg = write_config(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["data", "build", str(cfg), "--out", str(tmp_path / "ds"), "split.tset=0.2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "split.tset: unknown key 'tset'" in err and "test_origins" in err
    with pytest.raises(SystemExit) as exc:
        main(["data", "build", str(cfg), "--out", str(tmp_path / "ds"), "-q", "split.test=0.2", "split.train=0.7"])
    assert exc.value.code == 0
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text(encoding="utf-8"))
    assert stats["classification"]["splits"]["test"] > stats["classification"]["splits"]["validation"]
    assert "split:\n  train: 0.7" in (tmp_path / "ds" / "build_config.yaml").read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["data", "stats", str(tmp_path)])
    assert exc.value.code == 2 and "not a dataset folder" in capsys.readouterr().err


def test_out_that_is_not_a_dataset_is_never_replaced(tmp_path):
    write_corpus(tmp_path)
    cfg = write_config(tmp_path)
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="exists and is not a dataset folder; refusing to replace it"):
        build_dataset(cfg, precious)
    assert (precious / "keep.txt").read_text(encoding="utf-8") == "mine"
    with pytest.raises(InputError, match="not a dataset folder"):
        build_dataset(cfg, precious / "keep.txt")


def test_ensure_dataset_builds_once_and_reuses(tmp_path):
    write_corpus(tmp_path)
    cfg = write_config(tmp_path)
    cache = tmp_path / "cache"
    path = ensure_dataset(cfg, cache_dir=cache)
    assert path.parent == cache and path.name.startswith("synthetic-")
    stamp = (path / "stats.json").stat().st_mtime_ns
    assert ensure_dataset(cfg, cache_dir=cache) == path
    assert (path / "stats.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert ensure_dataset(path) == path  # a dataset folder is returned as is
    assert ensure_dataset(cfg, cache_dir=cache, overrides=["seed=9"]) != path  # config change -> new build
    with pytest.raises(InputError, match="not a dataset folder"):
        load_built(tmp_path)
    with pytest.raises(InputError, match="not a dataset folder"):
        ensure_dataset(tmp_path)


def test_sample_build(repo, tmp_path):
    if not (repo / "data/sample/headlines.jsonl").is_file():
        pytest.skip("data/sample not present")
    stats = build_dataset(repo / "configs/data/sample.yaml", tmp_path / "sample")
    ds = load_built(tmp_path / "sample")
    train_labels = set(label_names(ds.classification["train"]))
    assert train_labels == set(ds.labels.names)  # the sample covers every label
    assert sum(stats["classification"]["splits"].values()) + sum(stats["classification"]["dropped"].values()) \
        == stats["input_rows"]
    assert len(ds.summarisation["train"]) > 0


def test_page_dump_source(seed_page, tmp_path):
    cfg = write_config(tmp_path)
    data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    data["sources"] = [{"name": "pages", "path": str(seed_page), "type": "pages"}]
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    stats = build_dataset(cfg, tmp_path / "ds")
    rows = [r for split in _rows(load_built(tmp_path / "ds").classification).values() for r in split]
    kinds = [r["kind"] for r in rows]
    assert stats["input_rows"] == stats["input_articles"] + kinds.count("headline") + \
        sum(v for k, v in stats["classification"]["dropped"].items())
    assert kinds.count("headline") >= 1 and all(r["label_origin"] == "weak" for r in rows)
    assert stats["summarisation"]["splits"]["train"] + stats["summarisation"]["splits"]["validation"] == 1


def test_label_is_a_classlabel_in_the_taxonomy_order(built):
    import datasets

    _, _, out, _, _ = built
    ds = load_built(out)
    for split in ds.classification.values():
        feature = split.features["label"]
        assert isinstance(feature, datasets.ClassLabel)
        assert feature.names == list(ds.labels.names)  # the model's label2id order, not class_encode_column's
    plain = datasets.load_from_disk(str(out / "classification"))["train"]
    names = [plain.features["label"].int2str(i) for i in plain["label"]]
    assert names == label_names(ds.classification["train"]) and set(names) <= set(ds.labels.names)
    info = json.loads((out / "classification" / "train" / "dataset_info.json").read_text(encoding="utf-8"))
    assert info["dataset_name"] == "synthetic" and info["config_name"] == "classification"


def test_root_folder_loads_with_plain_load_from_disk(built):
    import datasets

    _, _, out, stats, _ = built
    root = datasets.load_from_disk(str(out))
    assert set(root) == {f"{t}/{s}" for t in ("classification", "summarisation") for s in ("train", "validation", "test")}
    for task in ("classification", "summarisation"):
        for s, n in stats[task]["splits"].items():
            assert len(root[f"{task}/{s}"]) == n
    assert isinstance(root["classification/test"].features["label"], datasets.ClassLabel)


def test_dataset_card(built):
    _, cfg, out, stats, _ = built
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlanguage: [ru, uk]\n")
    assert f"mlnews data build {cfg} --out {out}" in card  # the command that built it (paths as given)
    assert "| classification | " + " | ".join(str(stats["classification"]["splits"][s])
                                              for s in ("train", "validation", "test")) in card
    assert "| paper | gold |" in card and "| portal | weak |" in card  # label provenance per source
    assert "| 0 | society |" in card  # ClassLabel ids
    assert "datasets.load_from_disk(\"DIR/classification\")" in card
    assert "not stated" in card  # the synthetic corpus has no README with a licence


def test_card_licences_come_from_the_shared_readme(shared_data):
    from mlnews.data.card import source_licence

    assert source_licence([shared_data / "articles_ria_topics.jsonl"]).startswith("MIT (repository LICENSE")
    assert source_licence([shared_data / "headlines_lenta.jsonl"]).startswith("not stated (no LICENSE")
    assert "MIT licence" in source_licence([REPO / "data" / "sample" / "headlines.jsonl"])


def test_export_parquet(built, tmp_path):
    import pyarrow.parquet as pq

    _, _, out, stats, _ = built
    written = dict(export_parquet(out, tmp_path / "pq"))
    assert len(written) == 6
    table = pq.read_table(tmp_path / "pq" / "classification-train.parquet")
    assert table.num_rows == stats["classification"]["splits"]["train"] == written[tmp_path / "pq" / "classification-train.parquet"]
    assert table.column("label_name").to_pylist() == label_names(load_built(out).classification["train"])
    assert (tmp_path / "pq" / "labels.json").is_file() and (tmp_path / "pq" / "README.md").is_file()
    from cli_runner import main

    with pytest.raises(SystemExit) as exc:
        main(["data", "export", str(tmp_path), "--parquet", str(tmp_path / "x")])
    assert exc.value.code == 2


# --- hostile input and faults (issue #15) --------------------------------------------------------


def test_lone_surrogate_escape_in_a_corpus_is_built_as_replacement_character(tmp_path):
    write_corpus(tmp_path)
    with open(tmp_path / "headlines.jsonl", "a", encoding="utf-8") as fh:  # `build._write` used to raise here
        fh.write('{"id": "h-sur", "source": "portal", "lang": "ru", "title": "Курс \\ud800 рубля упал на бирже снова", '
                 '"label": "Экономика", "label_origin": "gold", "published": null}\n')
    build_dataset(write_config(tmp_path), tmp_path / "ds")
    rows = [r for rows in _rows(load_built(tmp_path / "ds").classification).values() for r in rows]
    assert [r["text"] for r in rows if r["id"] == "h-sur"] == ["Курс \ufffd рубля упал на бирже снова"]


@pytest.mark.parametrize("where", ["/proc/ds", "FILE/ds"])
def test_unwritable_out_fails_before_the_build_runs(tmp_path, where, capsys):
    from cli_runner import main

    write_corpus(tmp_path)
    (tmp_path / "FILE").write_text("x", encoding="utf-8")
    out = where if where.startswith("/") else str(tmp_path / where)
    seen: list[str] = []
    with pytest.raises(InputError, match=rf"^{out}: cannot write here \(.+\); expected a path in a writable folder$"):
        build_dataset(write_config(tmp_path), out, progress=lambda stage, n: seen.append(stage))
    assert seen == []  # nothing was scanned
    with pytest.raises(SystemExit) as exc:
        main(["data", "build", str(write_config(tmp_path)), "--out", out, "-q"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith(f"mlnews: error: {out}: cannot write here") and err.count("\n") == 1
