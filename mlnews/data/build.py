"""``mlnews data build``: sources -> labelled, deduplicated, leak-free dataset folder.

Streaming in three passes over the sources (no list of records is ever held):

1. scan: per row, compact keys only (source, kind, language, exact-dup hash, MinHash bands,
   mapped label, keyword-rule weak label) in numpy-backed arrays; a seeded reservoir of labelled
   texts (``weak.tfidf_max_train``) for the TF-IDF labeller.
2. weak (only with ``tfidf`` in ``weak.methods``): re-read the unlabelled rows and label them
   with the TF-IDF model trained on the reservoir.
3. write: decisions (drop reason, group, split) are made on the arrays, then rows are streamed
   into per-split JSONL parts and converted with ``datasets.Dataset.from_generator``.

Every row ends up in exactly one split or one drop reason (``stats.json``).
"""

from __future__ import annotations

import json
import random
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from mlnews.config import dump_yaml, to_dict
from mlnews.data.config import ORIGINS, SPLITS, DataConfig, PathResolver
from mlnews.data.dedup import MinHasher, UnionFind, hash64, join_equal, join_near
from mlnews.data.split import assign_splits
from mlnews.data.taxonomy import LabelMapper, load_taxonomy
from mlnews.errors import ConfigError, InputError, MlnewsError
from mlnews.io import atomic_dir, write_json, write_text
from mlnews.text import compose_text, normalise_for_match

# Drop reasons, in precedence order (a row gets the first that applies).
REASONS = ("keep", "malformed", "empty", "wrong_language", "duplicate", "unmapped_label",
           "unlabelled", "below_threshold", "capped", "excluded_by_config")
R = {name: i for i, name in enumerate(REASONS)}
NOT_ARTICLE = -1  # summarisation status of headline rows (they are not summarisation inputs)

Progress = Callable[[str, int], None]


@dataclass
class Item:
    """One row of the stream: a headline, or an article (title + lead + body)."""

    cfg_source: int
    source: str
    kind: str
    id: str
    text: str = ""
    lead: str = ""
    body: str = ""
    lang: Optional[str] = None
    label: Optional[str] = None
    label_origin: Optional[str] = None
    error: Optional[str] = None


def _iter_source(idx: int, cfg: DataConfig, resolver: PathResolver, mappings: dict) -> Iterator[Item]:
    from mlnews.types import Article

    src = cfg.sources[idx]
    key = f"sources[{idx}]"
    files = resolver.many(src.path, f"{key}.path")
    if src.type == "corpus":
        from mlnews.ingest.corpus import iter_corpus

        mapping = src.columns if src.columns is not None else mappings[src.mapping]
        for path in files:
            for lineno, rec in iter_corpus(path, mapping, strict=src.strict):
                rid = f"{src.name}-{path.stem}-{lineno}"
                if isinstance(rec, InputError):
                    yield Item(idx, src.name, "headline", rid, error=str(rec))
                    continue
                name = rec.source or src.name
                if isinstance(rec, Article):
                    yield Item(idx, name, "article", rec.id or rid, rec.title, rec.lead or "", rec.body,
                               rec.lang, rec.label, rec.label_origin)
                else:
                    yield Item(idx, name, "headline", rec.id or rid, rec.text, "", "", rec.lang, rec.label,
                               rec.label_origin)
        return
    for path in files:
        try:
            if src.type == "pages":
                from mlnews.ingest.page import read_page

                art = read_page(path)
            else:
                from mlnews.ingest.html import read_html

                art = read_html(path)
        except ImportError as exc:
            raise MlnewsError(f"{key}.type: {src.type!r} inputs need the page/HTML reader ({exc})") from None
        except InputError as exc:
            if src.strict:
                raise
            yield Item(idx, src.name, "article", f"{src.name}:{path.name}", error=str(exc))
            continue
        rid = f"{src.name}:{path.stem}"
        yield Item(idx, src.name, "article", rid, art.title, art.lead or "", art.body, art.lang,
                   art.label, art.label_origin)
        for j, h in enumerate(art.headlines):
            yield Item(idx, src.name, "headline", f"{rid}#h{j}", h.text, "", "", h.lang or art.lang, h.label,
                       h.label_origin)


def iter_items(
    cfg: DataConfig, resolver: PathResolver, mappings: dict, spool: Optional[Path] = None
) -> Iterator[Item]:
    """All rows of all sources, in config order (the same order on every pass).

    With ``spool`` (a folder), rows of page/HTML sources are parsed once: the first pass writes
    them to ``spool/<source index>.jsonl`` and later passes read them back from there.
    """
    for idx, src in enumerate(cfg.sources):
        if spool is None or src.type == "corpus":
            yield from _iter_source(idx, cfg, resolver, mappings)
            continue
        part = spool / f"{idx}.jsonl"
        if part.exists():
            with open(part, encoding="utf-8") as fh:
                for line in fh:
                    yield Item(**json.loads(line))
            continue
        tmp = part.with_suffix(".partial")
        with open(tmp, "w", encoding="utf-8") as fh:
            for item in _iter_source(idx, cfg, resolver, mappings):
                fh.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
                yield item
        tmp.rename(part)


def _model_text(item: Item) -> str:
    """What the weak labellers read: title, lead and the start of the body."""
    return compose_text(item.text, item.lead, item.body, body_chars=300)


class _Scan:
    """Compact per-row columns filled in pass 1 (array.array, turned into numpy afterwards)."""

    def __init__(self) -> None:
        self.cfg_source = array("h")
        self.source = array("h")
        self.kind = array("b")  # 0 headline, 1 article
        self.lang = array("b")
        self.key = array("q")
        self.body_key = array("q")  # 0 = no body key
        self.label = array("h")
        self.origin = array("b")
        self.cls = array("b")
        self.summ = array("b")
        self.pool = array("b")
        self.rule_label = array("h")
        self.rule_conf = array("f")
        self.near_rows = array("q")
        self.bands = array("q")  # [near_rows x dedup.bands], flattened
        self.sigs = array("B")  # [near_rows x dedup.num_perm], flattened

    def np(self, name: str) -> np.ndarray:
        return np.frombuffer(getattr(self, name), dtype=getattr(self, name).typecode).copy() \
            if len(getattr(self, name)) else np.zeros(0, dtype=getattr(self, name).typecode)


def _detect_lang(text: str) -> str:
    try:
        from mlnews.ingest.lang import detect_lang
    except ImportError as exc:
        raise MlnewsError(f"a row has no language and mlnews.ingest.lang is unavailable ({exc})") from None
    return detect_lang(text)


def run_build(
    cfg: DataConfig, resolver: PathResolver, out: str | Path, progress: Optional[Progress] = None
) -> dict:
    """Build the dataset folder ``out`` (atomically) and return its stats dict."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlnews-build-") as spool:
        return _run_build(cfg, resolver, Path(out), progress, Path(spool))


def _run_build(cfg: DataConfig, resolver: PathResolver, out: Path, progress: Optional[Progress],
               spool: Path) -> dict:
    from mlnews.ingest.corpus import load_mappings

    progress = progress or (lambda stage, n: None)
    taxonomy = load_taxonomy(resolver.file(cfg.taxonomy, "taxonomy"))
    label_names = taxonomy.names
    mapper = LabelMapper(taxonomy, cfg.label_maps)
    mappings = {}
    if any(s.type == "corpus" and s.columns is None for s in cfg.sources):
        mappings = load_mappings(resolver.file(cfg.mappings_file, "mappings_file"))
    for i, s in enumerate(cfg.sources):
        if s.type == "corpus" and s.columns is None and s.mapping not in mappings:
            raise ConfigError(f"sources[{i}].mapping: {s.mapping!r} is not in {cfg.mappings_file}; "
                              f"expected one of: {', '.join(sorted(mappings))}")
        resolver.many(s.path, f"sources[{i}].path")  # fail early on a missing input
    rules = None
    if "rules" in cfg.weak.methods:
        if not cfg.weak.keywords_file:
            raise ConfigError("weak.keywords_file: required when weak.methods has 'rules'")
        from mlnews.data.weak import KeywordLabeller

        rules = KeywordLabeller.from_file(resolver.file(cfg.weak.keywords_file, "weak.keywords_file"),
                                          label_names, prior=cfg.weak.rules_prior)
    hasher = MinHasher(cfg.dedup.num_perm, cfg.dedup.bands, cfg.dedup.shingle, cfg.dedup.min_words) \
        if cfg.dedup.near else None

    langs = list(cfg.langs)
    sources: list[str] = []
    source_idx: dict[str, int] = {}
    lab_idx = {n: i for i, n in enumerate(label_names)}
    origin_idx = {n: i for i, n in enumerate(ORIGINS)}
    reservoir: list[tuple[str, str]] = []
    rng = random.Random(cfg.seed)
    seen_labelled = 0
    errors: list[str] = []

    # ---- pass 1: scan -------------------------------------------------------------------------
    sc = _Scan()
    n = 0
    for item in iter_items(cfg, resolver, mappings, spool):
        src = cfg.sources[item.cfg_source]
        if item.source not in source_idx:
            source_idx[item.source] = len(sources)
            sources.append(item.source)
        sc.cfg_source.append(item.cfg_source)
        sc.source.append(source_idx[item.source])
        is_article = item.kind == "article"
        sc.kind.append(int(is_article))
        cls = summ = R["keep"]
        lang_code, key, body_key = -1, 0, 0
        label, origin, pool = -1, -1, 0
        rlab, rconf = -1, 0.0
        norm_text = normalise_for_match(item.text)
        norm_body = normalise_for_match(item.body) if is_article else ""
        if item.error is not None:
            cls = summ = R["malformed"]
            if len(errors) < 20:
                errors.append(item.error)
        else:
            if len(norm_text) < cfg.min_text_chars:
                cls = R["empty"]
            if is_article and len(norm_body) < cfg.min_body_chars:
                summ = R["empty"]
            if cls == R["keep"] or summ == R["keep"]:
                lang = item.lang or _detect_lang(" ".join([item.text, item.lead, item.body[:500]]))
                if lang in langs:
                    lang_code = langs.index(lang)
                else:
                    cls = cls or R["wrong_language"]
                    summ = summ or R["wrong_language"]
            key = hash64(norm_text if norm_text else "\x00body " + norm_body[:2000])
            if is_article and len(norm_body) >= cfg.dedup.body_min_chars:
                body_key = hash64(norm_body)
            if cls == R["keep"]:
                if not src.classification:
                    cls = R["excluded_by_config"]
                elif src.use_labels and item.label and item.label_origin != "none":
                    mapped = mapper.map(item.source, src.label_map, item.label)
                    if mapped is not None:
                        label, origin = lab_idx[mapped], origin_idx[src.label_origin]
                        seen_labelled += 1
                        text = _model_text(item)
                        if len(reservoir) < cfg.weak.tfidf_max_train:
                            reservoir.append((text, mapped))
                        else:
                            j = rng.randrange(seen_labelled)
                            if j < cfg.weak.tfidf_max_train:
                                reservoir[j] = (text, mapped)
                    elif src.unmapped == "weak":
                        pool = 1
                    else:
                        cls = R["unmapped_label"]
                else:
                    pool = 1
                if pool:
                    if not cfg.weak.methods:
                        cls, pool = R["unlabelled"], 0
                    elif rules is not None:
                        name, rconf = rules.label(_model_text(item), langs[lang_code])
                        rlab = lab_idx[name] if name is not None else -1
            if hasher is not None and (cls == R["keep"] or (summ == R["keep"] and is_article)):
                sig = hasher.signature(norm_text)
                if sig is not None:
                    sc.near_rows.append(n)
                    sc.bands.frombytes(sig[0].tobytes())
                    sc.sigs.frombytes(sig[1].tobytes())
        if not is_article:
            summ = NOT_ARTICLE
        elif not src.summarisation and summ == R["keep"]:
            summ = R["excluded_by_config"]
        sc.lang.append(lang_code)
        sc.key.append(key)
        sc.body_key.append(body_key)
        sc.label.append(label)
        sc.origin.append(origin)
        sc.cls.append(cls)
        sc.summ.append(summ)
        sc.pool.append(pool)
        sc.rule_label.append(rlab)
        sc.rule_conf.append(rconf)
        n += 1
        if n % 5000 == 0:
            progress("scan", 5000)
    progress("scan", n % 5000)

    label = sc.np("label")
    origin = sc.np("origin")
    conf = np.where(label >= 0, 1.0, 0.0).astype(np.float32)
    cls = sc.np("cls")
    summ = sc.np("summ")
    pool = sc.np("pool").astype(bool)
    key = sc.np("key")

    # ---- pass 2: weak labels ------------------------------------------------------------------
    weak_stats = {"methods": list(cfg.weak.methods), "threshold": cfg.weak.threshold, "pool": int(pool.sum()),
                  "labelled": {}, "below_threshold": 0, "tfidf_train_rows": 0}
    tfidf_label = np.full(n, -1, dtype=np.int16)
    tfidf_conf = np.zeros(n, dtype=np.float32)
    if "tfidf" in cfg.weak.methods and pool.any():
        if len({lab for _, lab in reservoir}) >= 2:
            from mlnews.data.weak import TfidfLabeller

            progress("train weak labeller", 0)
            model = TfidfLabeller(C=cfg.weak.tfidf_C, max_features=cfg.weak.tfidf_max_features, seed=cfg.seed)
            model.fit([t for t, _ in reservoir], [lab for _, lab in reservoir])
            weak_stats["tfidf_train_rows"] = len(reservoir)
            batch_idx: list[int] = []
            batch_txt: list[str] = []

            def flush() -> None:
                for i, (name, p) in zip(batch_idx, model.label_batch(batch_txt)):
                    tfidf_label[i], tfidf_conf[i] = lab_idx[name], p
                progress("weak labels", len(batch_idx))
                batch_idx.clear()
                batch_txt.clear()

            for i, item in enumerate(iter_items(cfg, resolver, mappings, spool)):
                if pool[i]:
                    batch_idx.append(i)
                    batch_txt.append(_model_text(item))
                    if len(batch_idx) >= 2048:
                        flush()
            if batch_idx:
                flush()
        else:
            weak_stats["tfidf_skipped"] = "fewer than two labels among gold/source_rubric rows"
    del reservoir
    rule_label, rule_conf = sc.np("rule_label"), sc.np("rule_conf")
    by_method = {"rules": (rule_label, rule_conf), "tfidf": (tfidf_label, tfidf_conf)}
    done = ~pool
    for m in cfg.weak.methods:
        mlab, mconf = by_method[m]
        hit = ~done & (mlab >= 0) & (mconf >= cfg.weak.threshold)
        label[hit], conf[hit], origin[hit] = mlab[hit], mconf[hit], origin_idx["weak"]
        weak_stats["labelled"][m] = int(hit.sum())
        done |= hit
    below = pool & ~done
    cls[below] = R["below_threshold"]
    weak_stats["below_threshold"] = int(below.sum())

    # ---- dedup --------------------------------------------------------------------------------
    alive = ((cls == R["keep"]) | (cls > R["duplicate"])) | (summ == R["keep"]) | (summ > R["duplicate"])
    alive &= (cls != R["malformed"])
    alive_idx = np.flatnonzero(alive)
    _, first = np.unique(key[alive_idx], return_index=True)
    dup = np.ones(len(alive_idx), dtype=bool)
    dup[first] = False
    dup_rows = alive_idx[dup]
    for arr in (cls, summ):
        sel = dup_rows[arr[dup_rows] != NOT_ARTICLE]
        arr[sel] = np.where(
            (arr[sel] == R["keep"]) | (arr[sel] > R["duplicate"]), R["duplicate"], arr[sel]
        )
    # cap per config source (classification rows only), deterministic by seed
    cfg_source = sc.np("cfg_source")
    capped: dict[str, int] = {}
    cap_rng = np.random.default_rng(cfg.seed)
    for i, s in enumerate(cfg.sources):
        rows = np.flatnonzero((cfg_source == i) & (cls == R["keep"]))
        if s.cap is not None and len(rows) > s.cap:
            drop = cap_rng.choice(rows, size=len(rows) - s.cap, replace=False)
            cls[drop] = R["capped"]
            capped[s.name] = int(len(drop))
    live = np.flatnonzero((cls == R["keep"]) | (summ == R["keep"]))
    uf = UnionFind(n)
    body_key = sc.np("body_key")
    with_body = live[body_key[live] != 0]
    body_unions = join_equal(body_key[with_body], with_body, uf)
    near_unions = 0
    if hasher is not None and len(sc.near_rows):
        near_rows = sc.np("near_rows")
        bands = sc.np("bands").reshape(len(near_rows), cfg.dedup.bands)
        sigs = sc.np("sigs").reshape(len(near_rows), cfg.dedup.num_perm)
        keep_near = np.isin(near_rows, live)
        near_unions = join_near(bands[keep_near], sigs[keep_near], near_rows[keep_near],
                                cfg.dedup.threshold, uf)
        del bands, sigs
    progress("dedup", 0)
    roots = uf.roots()
    dedup_stats = {"exact_duplicates": int(len(dup_rows)), "near_duplicate_unions": int(near_unions),
                   "same_body_unions": int(body_unions)}
    grp_sizes = np.bincount(roots[live], minlength=n) if len(live) else np.zeros(n, dtype=np.int64)
    dedup_stats["groups_with_several_rows"] = int((grp_sizes > 1).sum())
    dedup_stats["rows_in_shared_groups"] = int(grp_sizes[grp_sizes > 1].sum())

    # ---- split --------------------------------------------------------------------------------
    src_code = sc.np("source")
    strata = np.where(cls[live] == R["keep"], label[live], len(label_names) + src_code[live]).astype(np.int64)
    test_origin_codes = [origin_idx[o] for o in cfg.split.test_origins]
    test_ok = np.where(cls[live] == R["keep"], np.isin(origin[live], test_origin_codes), True)
    split = np.full(n, -1, dtype=np.int8)
    split[live] = assign_splits(roots[live], strata, test_ok,
                                (cfg.split.train, cfg.split.validation, cfg.split.test), cfg.seed)

    # ---- pass 3: write ------------------------------------------------------------------------
    out = Path(out)
    lang_arr = sc.np("lang")
    kind_arr = sc.np("kind")
    with atomic_dir(out) as tmp:
        work = tmp / "_work"
        work.mkdir()
        parts = {(task, s): open(work / f"{task}-{s}.jsonl", "w", encoding="utf-8")
                 for task in ("classification", "summarisation") for s in SPLITS}
        try:
            for i, item in enumerate(iter_items(cfg, resolver, mappings, spool)):
                if split[i] < 0:
                    continue
                sname = SPLITS[split[i]]
                group = f"g{roots[i]}"
                lang = langs[lang_arr[i]]
                if cls[i] == R["keep"]:
                    row = {"id": item.id, "text": item.text, "lead": item.lead, "body": item.body,
                           "label": label_names[label[i]], "label_origin": ORIGINS[origin[i]],
                           "confidence": float(conf[i]), "lang": lang, "source": item.source,
                           "kind": item.kind, "group": group}
                    parts["classification", sname].write(json.dumps(row, ensure_ascii=False) + "\n")
                if summ[i] == R["keep"]:
                    lead = item.lead if cfg.sources[item.cfg_source].lead_is_summary else ""
                    row = {"id": item.id, "text": item.body, "title": item.text, "lead": lead, "lang": lang,
                           "source": item.source, "group": group}
                    parts["summarisation", sname].write(json.dumps(row, ensure_ascii=False) + "\n")
                if (i + 1) % 5000 == 0:
                    progress("write", 5000)
        finally:
            for fh in parts.values():
                fh.close()
        progress("write", n % 5000)
        _to_arrow(work, tmp)
        stats = _stats(cfg, n, sources, langs, label_names, cls, summ, split, label, origin, src_code, lang_arr,
                       kind_arr, cfg_source, mapper, capped, weak_stats, dedup_stats, errors)
        import shutil

        shutil.rmtree(work)
        write_json(tmp / "labels.json", taxonomy.to_json())
        write_json(tmp / "stats.json", stats)
        from mlnews.data.stats import render_stats_md

        write_text(tmp / "stats.md", render_stats_md(stats))
        write_text(tmp / "build_config.yaml", _resolved_config_yaml(cfg, resolver))
    return stats


CLS_FEATURES = {"id": "string", "text": "string", "lead": "string", "body": "string", "label": "string",
                "label_origin": "string", "confidence": "float32", "lang": "string", "source": "string",
                "kind": "string", "group": "string"}
SUM_FEATURES = {"id": "string", "text": "string", "title": "string", "lead": "string", "lang": "string",
                "source": "string", "group": "string"}


def _read_jsonl(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def _to_arrow(work: Path, out: Path) -> None:
    """Convert the JSONL parts to ``DatasetDict``s saved under ``out/classification`` etc."""
    import datasets

    datasets.disable_progress_bars()
    for task, spec in (("classification", CLS_FEATURES), ("summarisation", SUM_FEATURES)):
        features = datasets.Features({k: datasets.Value(v) for k, v in spec.items()})
        dd = datasets.DatasetDict()
        for s in SPLITS:
            part = work / f"{task}-{s}.jsonl"
            if part.stat().st_size == 0:
                dd[s] = datasets.Dataset.from_dict({k: [] for k in spec}, features=features)
            else:
                dd[s] = datasets.Dataset.from_generator(
                    _read_jsonl, gen_kwargs={"path": str(part)}, features=features,
                    cache_dir=str(work / "cache"),
                )
        # one shard per split: an empty split saved with the default sharding cannot be loaded back
        dd.save_to_disk(str(out / task), num_shards={s: 1 for s in SPLITS})


def _resolved_config_yaml(cfg: DataConfig, resolver: PathResolver) -> str:
    data = to_dict(cfg)
    data["taxonomy"] = str(resolver.file(cfg.taxonomy, "taxonomy"))
    for i, s in enumerate(data["sources"]):
        files = resolver.many(s["path"], f"sources[{i}].path")
        s["path"] = str(files[0]) if len(files) == 1 and "*" not in s["path"] else s["path"]
    return "# resolved by mlnews data build\n" + dump_yaml(data)


def _stats(cfg, n, sources, langs, label_names, cls, summ, split, label, origin, src_code, lang_arr, kind_arr,
           cfg_source, mapper, capped, weak_stats, dedup_stats, errors) -> dict:
    from collections import Counter

    def name_of(arr_reason):
        return REASONS[arr_reason]

    kinds = ("headline", "article")
    cls_rows = Counter()
    keep = np.flatnonzero(cls == R["keep"])
    for s, lab, lg, src, k, o in zip(split[keep], label[keep], lang_arr[keep], src_code[keep], kind_arr[keep],
                                     origin[keep]):
        cls_rows[(SPLITS[s], label_names[lab], langs[lg], sources[src], kinds[k], ORIGINS[o])] += 1
    sum_rows = Counter()
    skeep = np.flatnonzero(summ == R["keep"])
    for s, lg, src in zip(split[skeep], lang_arr[skeep], src_code[skeep]):
        sum_rows[(SPLITS[s], langs[lg], sources[src])] += 1
    dropped_cls = Counter(name_of(r) for r in cls[cls != R["keep"]])
    articles = summ != NOT_ARTICLE
    dropped_sum = Counter(name_of(r) for r in summ[articles & (summ != R["keep"])])
    per_source = {}
    for si, name in enumerate(sources):
        m = src_code == si
        per_source[name] = {
            "rows": int(m.sum()),
            "articles": int((m & (kind_arr == 1)).sum()),
            "classification_kept": int((m & (cls == R["keep"])).sum()),
            "summarisation_kept": int((m & (summ == R["keep"])).sum()),
            "classification_dropped": dict(Counter(name_of(r) for r in cls[m & (cls != R["keep"])])),
            "summarisation_dropped": dict(Counter(name_of(r) for r in summ[m & articles & (summ != R["keep"])])),
        }
    return {
        "name": cfg.name,
        "seed": cfg.seed,
        "labels": label_names,
        "input_rows": int(n),
        "input_articles": int(articles.sum()),
        "classification": {
            "splits": {s: int(((split == i) & (cls == R["keep"])).sum()) for i, s in enumerate(SPLITS)},
            "rows": [dict(zip(("split", "label", "lang", "source", "kind", "label_origin"), k), count=v)
                     for k, v in sorted(cls_rows.items())],
            "dropped": dict(sorted(dropped_cls.items())),
        },
        "summarisation": {
            "splits": {s: int(((split == i) & (summ == R["keep"])).sum()) for i, s in enumerate(SPLITS)},
            "rows": [dict(zip(("split", "lang", "source"), k), count=v) for k, v in sorted(sum_rows.items())],
            "dropped": dict(sorted(dropped_sum.items())),
        },
        "sources": per_source,
        "unmapped_labels": {s: dict(c.most_common()) for s, c in sorted(mapper.unmapped.items())},
        "capped": capped,
        "weak": weak_stats,
        "dedup": dedup_stats,
        "malformed_examples": errors,
    }
