"""Pass 1 of a build: one compact record of codes and hashes per row, no texts kept.

:class:`Scanner` decides what it can from a row alone (malformed, empty, wrong language,
mapped / unmapped label, keyword-rule weak label), hashes the normalised text for exact dedup,
computes MinHash LSH bands for near-dedup and keeps a seeded reservoir of labelled texts for the
TF-IDF weak labeller. The columns are ``array.array``s (a few bytes per row), turned into numpy
arrays by :meth:`Scanner.column`.
"""

from __future__ import annotations

import random
from array import array
from typing import Optional

import numpy as np

from mlnews.data.config import ORIGINS, DataConfig
from mlnews.data.dedup import MinHasher, hash64
from mlnews.data.sources import Item, model_text
from mlnews.data.taxonomy import LabelMapper
from mlnews.text import normalise_for_match

# Drop reasons, in precedence order (a row gets the first that applies).
REASONS = ("keep", "malformed", "empty", "wrong_language", "duplicate", "unmapped_label",
           "unlabelled", "below_threshold", "capped", "excluded_by_config")
R = {name: i for i, name in enumerate(REASONS)}
NOT_ARTICLE = -1  # summarisation status of headline rows (they are not summarisation inputs)

_COLUMNS = {
    "cfg_source": "h", "source": "h", "kind": "b", "lang": "b", "key": "q", "body_key": "q", "label": "h",
    "origin": "b", "cls": "b", "summ": "b", "pool": "b", "rule_label": "h", "rule_conf": "f",
    "near_rows": "q", "bands": "q", "sigs": "B", "review": "h", "pseudo": "h", "pseudo_conf": "f",
}


def detect_lang(text: str) -> str:
    from mlnews.ingest.lang import detect_lang as detect

    return detect(text)


class Scanner:
    """Accumulates the per-row columns of pass 1 (see the module docstring)."""

    def __init__(self, cfg: DataConfig, label_names: list[str], mapper: LabelMapper, rules=None, reviews=None,
                 pseudo=None):
        self.cfg, self.mapper, self.rules = cfg, mapper, rules
        self.reviews = reviews  # mlnews.data.reviews.ReviewIndex of the review sources, or None
        self.pseudo = pseudo  # mlnews.data.pseudo.PseudoIndex of pseudo.files, or None
        self.label_names = label_names
        self.langs = list(cfg.langs)
        self.lab_idx = {n: i for i, n in enumerate(label_names)}
        self.origin_idx = {n: i for i, n in enumerate(ORIGINS)}
        self.hasher = (MinHasher(cfg.dedup.num_perm, cfg.dedup.bands, cfg.dedup.shingle, cfg.dedup.min_words)
                       if cfg.dedup.near else None)
        self.sources: list[str] = []  # row source names (a corpus's `source` column or the config name)
        self._source_idx: dict[str, int] = {}
        self.reservoir: list[tuple[str, str]] = []  # (text, label) sample for the TF-IDF labeller
        self._rng = random.Random(cfg.seed)
        self._seen_labelled = 0
        self.errors: list[str] = []  # the first malformed-row messages
        self.cols = {name: array(code) for name, code in _COLUMNS.items()}
        self.n = 0

    def column(self, name: str) -> np.ndarray:
        """A column as a (copied, writable) numpy array."""
        col = self.cols[name]
        return np.frombuffer(col, dtype=col.typecode).copy() if len(col) else np.zeros(0, dtype=col.typecode)

    def _keep_for_tfidf(self, item: Item, label: str) -> None:
        self._seen_labelled += 1
        cap = self.cfg.weak.tfidf_max_train
        if len(self.reservoir) < cap:
            self.reservoir.append((model_text(item), label))
        else:  # reservoir sampling (algorithm R), seeded
            j = self._rng.randrange(self._seen_labelled)
            if j < cap:
                self.reservoir[j] = (model_text(item), label)

    def _label(self, item: Item, lang: str) -> tuple[int, int, int, int, float, int]:
        """``(cls reason, label, origin, pool, rule conf, rule label)`` of a row that passed the filters."""
        src = self.cfg.sources[item.cfg_source]
        if not src.classification:
            return R["excluded_by_config"], -1, -1, 0, 0.0, -1
        if src.use_labels and item.label and item.label_origin != "none":
            mapped = self.mapper.map(item.source, src.label_map, item.label)
            if mapped is not None:
                if src.split is None:  # a held-out source never teaches the weak labeller
                    self._keep_for_tfidf(item, mapped)
                return R["keep"], self.lab_idx[mapped], self.origin_idx[src.label_origin], 0, 0.0, -1
            if src.unmapped == "drop":
                return R["unmapped_label"], -1, -1, 0, 0.0, -1
        if not self.cfg.weak.methods:
            return R["unlabelled"], -1, -1, 0, 0.0, -1
        rlab, rconf = -1, 0.0
        if self.rules is not None:
            name, rconf = self.rules.label(model_text(item), lang)
            rlab = self.lab_idx[name] if name is not None else -1
        return R["keep"], -1, -1, 1, rconf, rlab

    def add(self, item: Item) -> None:
        """Record one row."""
        cfg, c = self.cfg, self.cols
        src = cfg.sources[item.cfg_source]
        if item.source not in self._source_idx:
            self._source_idx[item.source] = len(self.sources)
            self.sources.append(item.source)
        is_article = item.kind == "article"
        cls = summ = R["keep"]
        lang_code, key, body_key = -1, 0, 0
        label, origin, pool, rconf, rlab = -1, -1, 0, 0.0, -1
        norm_text = normalise_for_match(item.text)
        norm_body = normalise_for_match(item.body) if is_article else ""
        if item.error is not None:
            cls = summ = R["malformed"]
            if len(self.errors) < 20:
                self.errors.append(item.error)
        else:
            if len(norm_text) < cfg.min_text_chars:
                cls = R["empty"]
            if is_article and len(norm_body) < cfg.min_body_chars:
                summ = R["empty"]
            if cls == R["keep"] or summ == R["keep"]:
                lang = item.lang or detect_lang(" ".join([item.text, item.lead, item.body[:500]]))
                if lang in self.langs:
                    lang_code = self.langs.index(lang)
                else:
                    cls = cls or R["wrong_language"]
                    summ = summ or R["wrong_language"]
            key = hash64(norm_text if norm_text else "\x00body " + norm_body[:2000])
            if is_article and len(norm_body) >= cfg.dedup.body_min_chars:
                body_key = hash64(norm_body)
            if cls == R["keep"]:
                cls, label, origin, pool, rconf, rlab = self._label(item, self.langs[lang_code])
            if self.hasher is not None and (cls == R["keep"] or (summ == R["keep"] and is_article)):
                sig = self.hasher.signature(norm_text)
                if sig is not None:
                    c["near_rows"].append(self.n)
                    c["bands"].frombytes(sig[0].tobytes())
                    c["sigs"].frombytes(sig[1].tobytes())
        if not is_article:
            summ = NOT_ARTICLE
        elif not src.summarisation and summ == R["keep"]:
            summ = R["excluded_by_config"]
        for name, value in (("cfg_source", item.cfg_source), ("source", self._source_idx[item.source]),
                            ("kind", int(is_article)), ("lang", lang_code), ("key", key), ("body_key", body_key),
                            ("label", label), ("origin", origin), ("cls", cls), ("summ", summ), ("pool", pool),
                            ("rule_label", rlab), ("rule_conf", rconf), ("review", self._review(item))):
            c[name].append(value)
        plab, pconf = self._pseudo(item)
        c["pseudo"].append(plab)
        c["pseudo_conf"].append(pconf)
        self.n += 1

    def _review(self, item: Item) -> int:
        """The reviewed label (index) of a row, or -1: applied later, after the weak labels and the split."""
        if self.reviews is None or item.error is not None or not self.cfg.sources[item.cfg_source].classification:
            return -1
        name = self.reviews.match(item.id, item.text)
        return self.lab_idx[name] if name is not None else -1

    def _pseudo(self, item: Item) -> tuple[int, float]:
        """The agreed pseudo-label (index) of a row and its score, or (-1, 0): applied after the split."""
        if self.pseudo is None or item.error is not None or not self.cfg.sources[item.cfg_source].classification:
            return -1, 0.0
        hit = self.pseudo.match(item.id)
        return (self.lab_idx[hit[0]], hit[1]) if hit is not None else (-1, 0.0)

    def near_arrays(self) -> Optional[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(rows, bands [rows x bands], signatures [rows x num_perm])`` or None without near-dedup."""
        if self.hasher is None or not len(self.cols["near_rows"]):
            return None
        rows = self.column("near_rows")
        return (rows, self.column("bands").reshape(len(rows), self.cfg.dedup.bands),
                self.column("sigs").reshape(len(rows), self.cfg.dedup.num_perm))
