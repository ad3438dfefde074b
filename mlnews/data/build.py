"""``mlnews data build``: sources -> labelled, deduplicated, leak-free dataset folder.

Streaming in three passes over the sources (no list of records is ever held):

1. scan (:mod:`mlnews.data.scan`): per row, compact codes and hashes only, plus a seeded
   reservoir of labelled texts (``weak.tfidf_max_train``) for the TF-IDF labeller.
2. weak (only with ``tfidf`` in ``weak.methods``): re-read the unlabelled rows and label them
   with the TF-IDF model trained on the reservoir.
3. write: decisions (drop reason, group, split) are made on the arrays, then rows are streamed
   into per-split JSONL parts and converted with ``datasets.Dataset.from_generator``.

Page and HTML sources are parsed once and spooled for the later passes. Every row ends up in
exactly one split or one drop reason (``stats.json``).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from mlnews.config import dump_yaml, to_dict
from mlnews.data.config import ORIGINS, SPLITS, DataConfig, PathResolver
from mlnews.data.dedup import UnionFind, join_equal, join_near
from mlnews.data.scan import NOT_ARTICLE, R, Scanner
from mlnews.data.sources import iter_items, model_text
from mlnews.data.split import assign_splits
from mlnews.data.stats import compute_stats, render_stats_md
from mlnews.data.taxonomy import LabelMapper, load_taxonomy
from mlnews.errors import ConfigError, InputError
from mlnews.io import atomic_dir, check_writable, temp_dir, write_json, write_text

Progress = Callable[..., None]  # progress(stage, n, total=None): n rows done since the last call


def run_build(
    cfg: DataConfig, resolver: PathResolver, out: str | Path, progress: Optional[Progress] = None,
    command: Optional[str] = None,
) -> dict:
    """Build the dataset folder ``out`` (atomically) and return its stats dict.

    An existing ``out`` is replaced only if it is a dataset folder (or empty): a build never
    deletes an unrelated folder given by mistake. ``progress(stage, n, total=None)`` is told the
    rows done per stage (``total`` where it is known); ``command`` is the build command shown in
    the dataset card (``README.md``).
    """
    out = Path(out)
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / "labels.json").is_file())):
        raise InputError(f"{out}: exists and is not a dataset folder; refusing to replace it (choose another --out)")
    check_writable(out)  # before the build runs, not after
    progress = progress or (lambda stage, n, total=None: None)
    taxonomy = load_taxonomy(resolver.file(cfg.taxonomy, "taxonomy"))
    stray = [x for x in cfg.split.validation_signal.exclude_labels if x not in taxonomy.names]
    if stray:
        raise ConfigError(f"split.validation_signal.exclude_labels: {stray[0]!r} is not a label of {cfg.taxonomy}; "
                          f"expected some of: {', '.join(taxonomy.names)}")
    mapper = LabelMapper(taxonomy, cfg.label_maps)
    mappings = _check_inputs(cfg, resolver)
    rules = None
    if "rules" in cfg.weak.methods:
        if not cfg.weak.keywords_file:
            raise ConfigError("weak.keywords_file: required when weak.methods has 'rules'")
        from mlnews.data.weak import KeywordLabeller

        rules = KeywordLabeller.from_file(resolver.file(cfg.weak.keywords_file, "weak.keywords_file"),
                                          taxonomy.names, prior=cfg.weak.rules_prior)
    with temp_dir("mlnews-build") as spool:  # swept by the next build if this one is killed

        def rows() -> Iterator:
            return iter_items(cfg, resolver, mappings, spool)

        from mlnews.data.reviews import load_review_sources

        reviews = load_review_sources([(s.name, resolver.many(s.path, f"sources[{i}].path"))
                                       for i, s in enumerate(cfg.sources) if s.type == "review"], taxonomy.names)
        from mlnews.data.pseudo import load_pseudo

        pseudo = load_pseudo([resolver.file(f, f"pseudo.files[{i}]") for i, f in enumerate(cfg.pseudo.files)],
                             taxonomy.names, cfg.pseudo.threshold, cfg.pseudo.min_views)
        scan = Scanner(cfg, taxonomy.names, mapper, rules, reviews, pseudo)
        progress("scan", 0)  # total unknown until the sources are read
        for item in rows():
            scan.add(item)
            if scan.n % 5000 == 0:
                progress("scan", 5000)
        progress("scan", scan.n % 5000)
        d = _Decisions(scan)
        weak_stats = d.weak_labels(rows, progress)
        progress("dedup", 0, total=d.n)
        dedup_stats, capped = d.dedup_cap_group()
        progress("dedup", d.n)
        d.split()
        signal_stats = d.move_to_validation()
        pseudo_stats = d.apply_pseudo(pseudo)
        review_stats = d.apply_reviews(reviews)
        progress("write", 0, total=d.n)
        with atomic_dir(out) as tmp:
            _write(tmp, d, rows, progress)
            stats = compute_stats(cfg, scan.n, scan.sources, scan.langs, taxonomy.names, d.cls, d.summ, d.splits,
                                  d.label, d.origin, scan.column("source"), d.lang, scan.column("kind"),
                                  scan.column("cfg_source"), mapper, capped, weak_stats, dedup_stats, scan.errors)
            if signal_stats is not None:
                stats["validation_signal"] = signal_stats
            if pseudo_stats is not None:
                stats["pseudo"] = pseudo_stats
            if review_stats is not None:
                stats["reviews"] = review_stats
            write_json(tmp / "labels.json", taxonomy.to_json())
            write_json(tmp / "stats.json", stats)
            write_text(tmp / "stats.md", render_stats_md(stats))
            write_text(tmp / "build_config.yaml", _resolved_config_yaml(cfg, resolver))
            from mlnews import __version__
            from mlnews.data.card import render_dataset_card

            write_text(tmp / "README.md", render_dataset_card(
                cfg, resolver, stats, taxonomy.to_json(), command or f"mlnews data build CONFIG --out {out.name}",
                __version__))
    return stats


def _check_inputs(cfg: DataConfig, resolver: PathResolver) -> dict:
    """Load the column mappings and fail early (one line, naming the key) on a missing input."""
    from mlnews.ingest.corpus import load_mappings

    mappings = {}
    if any(s.type == "corpus" and s.columns is None for s in cfg.sources):
        mappings = load_mappings(resolver.file(cfg.mappings_file, "mappings_file"))
    for i, s in enumerate(cfg.sources):
        if s.type == "corpus" and s.columns is None and s.mapping not in mappings:
            raise ConfigError(f"sources[{i}].mapping: {s.mapping!r} is not in {cfg.mappings_file}; "
                              f"expected one of: {', '.join(sorted(mappings))}")
        resolver.many(s.path, f"sources[{i}].path")
    return mappings


class _Decisions:
    """Per-row decisions on the scanned columns: weak labels, duplicates, caps, groups, splits."""

    def __init__(self, scan: Scanner):
        self.scan, self.cfg, self.n = scan, scan.cfg, scan.n
        self.label, self.origin = scan.column("label"), scan.column("origin")
        self.conf = np.where(self.label >= 0, 1.0, 0.0).astype(np.float32)
        self.cls, self.summ = scan.column("cls"), scan.column("summ")
        self.pool = scan.column("pool").astype(bool)
        self.lang = scan.column("lang")
        self.roots = np.arange(self.n)
        self.splits = np.full(self.n, -1, dtype=np.int8)

    def weak_labels(self, rows: Callable[[], Iterator], progress: Progress) -> dict:
        """Pass 2 (TF-IDF, if configured), then the first confident method labels each pool row."""
        cfg, scan, pool = self.cfg, self.scan, self.pool
        stats = {"methods": list(cfg.weak.methods), "threshold": cfg.weak.threshold, "pool": int(pool.sum()),
                 "labelled": {}, "below_threshold": 0, "tfidf_train_rows": 0}
        tfidf_label = np.full(self.n, -1, dtype=np.int16)
        tfidf_conf = np.zeros(self.n, dtype=np.float32)
        if "tfidf" in cfg.weak.methods and pool.any():
            if len({lab for _, lab in scan.reservoir}) >= 2:
                from mlnews.data.weak import TfidfLabeller

                progress("train weak labeller", 0, total=len(scan.reservoir))
                model = TfidfLabeller(C=cfg.weak.tfidf_C, max_features=cfg.weak.tfidf_max_features, seed=cfg.seed)
                model.fit([t for t, _ in scan.reservoir], [lab for _, lab in scan.reservoir])
                stats["tfidf_train_rows"] = len(scan.reservoir)
                progress("train weak labeller", len(scan.reservoir))
                progress("weak labels", 0, total=int(pool.sum()))
                batch: list[tuple[int, str]] = []
                for i, item in enumerate(rows()):
                    if pool[i]:
                        batch.append((i, model_text(item)))
                    if len(batch) >= 2048 or (i == self.n - 1 and batch):
                        for (j, _), (name, p) in zip(batch, model.label_batch([t for _, t in batch])):
                            tfidf_label[j], tfidf_conf[j] = scan.lab_idx[name], p
                        progress("weak labels", len(batch))
                        batch.clear()
            else:
                stats["tfidf_skipped"] = "fewer than two labels among gold/source_rubric rows"
        scan.reservoir.clear()
        by_method = {"rules": (scan.column("rule_label"), scan.column("rule_conf")),
                     "tfidf": (tfidf_label, tfidf_conf)}
        done = ~pool
        for m in cfg.weak.methods:
            mlab, mconf = by_method[m]
            hit = ~done & (mlab >= 0) & (mconf >= cfg.weak.threshold)
            self.label[hit], self.conf[hit], self.origin[hit] = mlab[hit], mconf[hit], ORIGINS.index("weak")
            stats["labelled"][m] = int(hit.sum())
            done |= hit
        below = pool & ~done
        self.cls[below] = R["below_threshold"]
        stats["below_threshold"] = int(below.sum())
        # a reviewed row that had no usable label (below the threshold, unmapped) is kept with its reviewed label
        self.review = self.scan.column("review")
        self.revived = (self.review >= 0) & np.isin(self.cls, [R["below_threshold"], R["unmapped_label"]])
        self.cls[self.revived] = R["keep"]
        return stats

    def dedup_cap_group(self) -> tuple[dict, dict]:
        """Drop exact duplicates, apply caps, join near-duplicates and same-body articles into groups."""
        cfg, cls, summ, scan = self.cfg, self.cls, self.summ, self.scan
        key = scan.column("key")
        alive = (cls == R["keep"]) | (cls > R["duplicate"]) | (summ == R["keep"]) | (summ > R["duplicate"])
        alive_idx = np.flatnonzero(alive & (cls != R["malformed"]))
        _, first = np.unique(key[alive_idx], return_index=True)
        dup = np.ones(len(alive_idx), dtype=bool)
        dup[first] = False
        dup_rows = alive_idx[dup]
        for arr in (cls, summ):
            sel = dup_rows[arr[dup_rows] != NOT_ARTICLE]
            arr[sel] = np.where((arr[sel] == R["keep"]) | (arr[sel] > R["duplicate"]), R["duplicate"], arr[sel])
        cfg_source = scan.column("cfg_source")
        capped: dict[str, int] = {}
        cap_rng = np.random.default_rng(cfg.seed)
        for i, s in enumerate(cfg.sources):
            rows = np.flatnonzero((cfg_source == i) & (cls == R["keep"]))
            if s.cap is not None and len(rows) > s.cap:
                drop = cap_rng.choice(rows, size=len(rows) - s.cap, replace=False)
                cls[drop] = R["capped"]
                capped[s.name] = int(len(drop))
        self.live = live = np.flatnonzero((cls == R["keep"]) | (summ == R["keep"]))
        uf = UnionFind(self.n)
        body_key = scan.column("body_key")
        with_body = live[body_key[live] != 0]
        body_unions = join_equal(body_key[with_body], with_body, uf)
        near_unions = 0
        near = scan.near_arrays()
        if near is not None:
            rows, bands, sigs = near
            keep = np.isin(rows, live)
            near_unions = join_near(bands[keep], sigs[keep], rows[keep], cfg.dedup.threshold, uf)
        self.roots = uf.roots()
        sizes = np.bincount(self.roots[live], minlength=self.n) if len(live) else np.zeros(self.n, dtype=np.int64)
        stats = {"exact_duplicates": int(len(dup_rows)), "near_duplicate_unions": int(near_unions),
                 "same_body_unions": int(body_unions), "groups_with_several_rows": int((sizes > 1).sum()),
                 "rows_in_shared_groups": int(sizes[sizes > 1].sum())}
        return stats, capped

    def split(self) -> None:
        """Group-aware, label-stratified split of the kept rows; weak rows only where allowed.

        Rows of a source with a fixed ``split:`` (and every row grouped with them) go there and are
        left out of the stratified assignment, so adding a held-out source moves no other row.
        """
        cfg, live, cls = self.cfg, self.live, self.cls
        forced_by_source = np.array([SPLITS.index(s.split) if s.split else -1 for s in cfg.sources], dtype=np.int8)
        group_forced = np.full(self.n, -1, dtype=np.int8)
        np.maximum.at(group_forced, self.roots[live], forced_by_source[self.scan.column("cfg_source")[live]])
        forced = group_forced[self.roots[live]]
        self.splits[live[forced >= 0]] = forced[forced >= 0]
        live = live[forced < 0]
        n_labels = len(self.scan.label_names)
        # Reviewed labels are applied after the split (apply_reviews): a corrected row is split by the label it
        # had, so it stays in its split. Rows that only a review keeps (revived) are split afterwards, without
        # disturbing the others: with their group where it has other rows, else train/validation by reviewed label.
        revived, live = live[self.revived[live]], live[~self.revived[live]]
        strata = np.where(cls[live] == R["keep"], self.label[live],
                          n_labels + self.scan.column("source")[live]).astype(np.int64)
        allowed = [ORIGINS.index(o) for o in cfg.split.test_origins]
        test_ok = np.where(cls[live] == R["keep"], np.isin(self.origin[live], allowed), True)
        ratios = (cfg.split.train, cfg.split.validation, cfg.split.test)
        self.splits[live] = assign_splits(self.roots[live], strata, test_ok, ratios, cfg.seed)
        if len(revived):
            of_group = dict(zip(self.roots[live].tolist(), self.splits[live].tolist()))
            joined = np.array([int(r) in of_group for r in self.roots[revived]], dtype=bool)
            self.splits[revived[joined]] = [of_group[int(r)] for r in self.roots[revived[joined]]]
            alone = revived[~joined]
            self.splits[alone] = assign_splits(self.roots[alone], self.review[alone].astype(np.int64),
                                               np.zeros(len(alone), dtype=bool), ratios, cfg.seed + 1)

    def move_to_validation(self) -> dict | None:
        """``split.validation_signal``: a seeded share of the matching training groups moves to validation,
        per label (the label of the group's first matching row), whole groups (an article's summarisation row
        goes with it: a title is never in two splits). Test is never touched. Stats."""
        cfg, names = self.cfg.split.validation_signal, self.scan.label_names
        if cfg.switched_off():
            return None
        train = SPLITS.index("train")
        langs = [self.scan.langs.index(g) for g in cfg.langs] if cfg.langs else list(range(len(self.scan.langs)))
        match = ((self.cls == R["keep"]) & (self.splits == train) & np.isin(self.lang, langs)
                 & np.isin(self.origin, [ORIGINS.index(o) for o in cfg.origins])
                 & ~np.isin(self.label, [names.index(x) for x in cfg.exclude_labels]))
        rows = np.flatnonzero(match)
        roots, first = np.unique(self.roots[rows], return_index=True)
        group_label = self.label[rows[first]]
        rng = np.random.default_rng(self.cfg.seed + 2)
        chosen, eligible, moved = [], {}, {}
        for lab in np.unique(group_label):
            of_label = roots[group_label == lab]
            k = int(np.floor(cfg.share * len(of_label) + 0.5))
            chosen.append(of_label[rng.permutation(len(of_label))[:k]])
            eligible[names[lab]], moved[names[lab]] = int(len(of_label)), k
        chosen = np.concatenate(chosen) if chosen else np.zeros(0, dtype=self.roots.dtype)
        hit = np.isin(self.roots, chosen) & (self.splits == train)
        self.splits[hit] = SPLITS.index("validation")
        keep = self.cls == R["keep"]
        return {"share": cfg.share, "langs": list(cfg.langs), "origins": list(cfg.origins),
                "exclude_labels": list(cfg.exclude_labels), "eligible_groups": eligible, "moved_groups": moved,
                "rows_moved": int((hit & keep).sum()), "matching_rows_moved": int((hit & match).sum()),
                "summarisation_rows_moved": int((hit & (self.summ == R["keep"])).sum())}

    def apply_pseudo(self, pseudo) -> dict | None:
        """Agreed, confident predictions relabel the training rows of ``pseudo.relabel`` origins (origin
        ``pseudo``, confidence = the score); validation and test rows are never touched. Stats."""
        if pseudo is None:
            return None
        cfg, names = self.cfg.pseudo, self.scan.label_names
        plab, pconf = self.scan.column("pseudo"), self.scan.column("pseudo_conf")
        langs = [self.scan.langs.index(g) for g in cfg.langs] if cfg.langs else list(range(len(self.scan.langs)))
        kept = (self.cls == R["keep"]) & (plab >= 0)
        eligible = (np.isin(self.origin, [ORIGINS.index(o) for o in cfg.relabel]) & np.isin(self.lang, langs)
                    & (self.review < 0))  # a human review wins over a model
        hit = kept & eligible & (self.splits == SPLITS.index("train"))
        changed = hit & (plab != self.label)
        moves = {f"{names[a]} -> {names[b]}": int(n) for (a, b), n in sorted(
            Counter(zip(self.label[changed].tolist(), plab[changed].tolist())).items(), key=lambda kv: -kv[1])}
        self.label[hit], self.origin[hit], self.conf[hit] = plab[hit], ORIGINS.index("pseudo"), pconf[hit]
        by_lang = {self.scan.langs[g]: int((hit & (self.lang == g)).sum()) for g in range(len(self.scan.langs))}
        return {**pseudo.stats(), "threshold": cfg.threshold, "relabel": list(cfg.relabel), "langs": list(cfg.langs),
                "rows_relabelled": int(hit.sum()), "label_changed": int(changed.sum()), "changes": moves,
                "by_lang": by_lang,
                "not_train": int((kept & eligible & (self.splits != SPLITS.index("train")) & (self.splits >= 0)).sum()),
                "other_origin_or_language": int((kept & ~eligible).sum())}

    def apply_reviews(self, reviews) -> dict | None:
        """Reviewed labels replace the labels of their kept rows (origin ``reviewed``, confidence 1); stats."""
        if reviews is None:
            return None
        hit = (self.review >= 0) & (self.cls == R["keep"])
        changed = hit & (self.review != self.label)
        self.label[hit], self.origin[hit], self.conf[hit] = self.review[hit], ORIGINS.index("reviewed"), 1.0
        by_split = {s: int((hit & (self.splits == i)).sum()) for i, s in enumerate(SPLITS)}
        return {**reviews.stats(), "rows_relabelled": int(hit.sum()), "label_changed": int(changed.sum()),
                "kept_by_review": int((self.revived & hit).sum()), "by_split": by_split}


def _write(tmp: Path, d: _Decisions, rows: Callable[[], Iterator], progress: Progress) -> None:
    """Pass 3: stream kept rows into per-split JSONL parts, then into ``DatasetDict`` folders."""
    cfg, scan = d.cfg, d.scan
    work = tmp / "_work"
    work.mkdir()
    parts = {(task, s): open(work / f"{task}-{s}.jsonl", "w", encoding="utf-8")
             for task in ("classification", "summarisation") for s in SPLITS}
    try:
        for i, item in enumerate(rows()):
            if d.splits[i] < 0:
                continue
            split, group, lang = SPLITS[d.splits[i]], f"g{d.roots[i]}", scan.langs[d.lang[i]]
            if d.cls[i] == R["keep"]:
                row = {"id": item.id, "text": item.text, "lead": item.lead, "body": item.body,
                       "label": scan.label_names[d.label[i]], "label_origin": ORIGINS[d.origin[i]],
                       "confidence": float(d.conf[i]), "lang": lang, "source": item.source,
                       "kind": item.kind, "group": group}
                parts["classification", split].write(json.dumps(row, ensure_ascii=False) + "\n")
            if d.summ[i] == R["keep"]:
                lead = item.lead if cfg.sources[item.cfg_source].lead_is_summary else ""
                row = {"id": item.id, "text": item.body, "title": item.text, "lead": lead, "lang": lang,
                       "source": item.source, "group": group}
                parts["summarisation", split].write(json.dumps(row, ensure_ascii=False) + "\n")
            if (i + 1) % 5000 == 0:
                progress("write", 5000)
    finally:
        for fh in parts.values():
            fh.close()
    progress("write", d.n % 5000)
    _to_arrow(work, tmp, scan.label_names, cfg.name)
    shutil.rmtree(work)


CLS_FEATURES = {"id": "string", "text": "string", "lead": "string", "body": "string", "label": "label",
                "label_origin": "string", "confidence": "float32", "lang": "string", "source": "string",
                "kind": "string", "group": "string"}
SUM_FEATURES = {"id": "string", "text": "string", "title": "string", "lead": "string", "lang": "string",
                "source": "string", "group": "string"}


def _read_jsonl(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def _to_arrow(work: Path, out: Path, label_names: list[str], name: str) -> None:
    """Convert the JSONL parts to ``DatasetDict``s saved under ``out/classification`` etc.

    ``label`` becomes a ``ClassLabel`` in the taxonomy order (the model's ``id2label``); each split's
    ``dataset_info.json`` carries the dataset name (not the builder's ``generator``). The root gets a
    ``dataset_dict.json`` listing ``classification/train`` ... so ``datasets.load_from_disk(root)``
    loads every split of both tasks.
    """
    import datasets

    from mlnews.data.card import ROOT_SPLITS

    datasets.disable_progress_bars()
    for task, spec in (("classification", CLS_FEATURES), ("summarisation", SUM_FEATURES)):
        features = datasets.Features({k: datasets.ClassLabel(names=list(label_names)) if v == "label"
                                      else datasets.Value(v) for k, v in spec.items()})
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
            dd[s].info.dataset_name, dd[s].info.config_name = name, task
            dd[s].info.description = f"mlnews dataset {name!r}, {task} task, {s} split (see README.md one folder up)"
        # one shard per split: an empty split saved with the default sharding cannot be loaded back
        dd.save_to_disk(str(out / task), num_shards={s: 1 for s in SPLITS})
    write_json(out / "dataset_dict.json", {"splits": ROOT_SPLITS})


def _resolved_config_yaml(cfg: DataConfig, resolver: PathResolver) -> str:
    data = to_dict(cfg)
    data["taxonomy"] = str(resolver.file(cfg.taxonomy, "taxonomy"))
    for i, s in enumerate(data["sources"]):
        files = resolver.many(s["path"], f"sources[{i}].path")
        s["path"] = str(files[0]) if len(files) == 1 and "*" not in s["path"] else s["path"]
    return "# resolved by mlnews data build\n" + dump_yaml(data)
