"""Exact and near-duplicate detection on compact per-row keys (no texts kept in memory).

* exact: a 64-bit hash of :func:`mlnews.text.normalise_for_match` (:func:`text_key`).
* near: MinHash (datasketch) over word shingles, LSH banding done with numpy sorts over a
  ``[rows, bands]`` int64 matrix; candidate pairs are verified with a uint8-truncated copy of the
  signature (estimated Jaccard >= threshold) and joined in a :class:`UnionFind`.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Optional

import numpy as np


def hash64(text: str) -> int:
    """A stable signed 64-bit hash (blake2b) of a string."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def _crc32(data: bytes) -> int:
    return zlib.crc32(data)


class MinHasher:
    """MinHash signatures of word n-gram shingles, cut into LSH band hashes."""

    def __init__(self, num_perm: int = 64, bands: int = 8, shingle: int = 2, min_words: int = 4, seed: int = 1):
        from datasketch import MinHash

        self.num_perm, self.bands, self.rows = num_perm, bands, num_perm // bands
        self.shingle, self.min_words = shingle, min_words
        self._MinHash = MinHash
        proto = MinHash(num_perm=num_perm, seed=seed, hashfunc=_crc32)
        self._perms, self._scheme = proto.permutations, proto.scheme
        mix = np.random.default_rng(seed).integers(1, 2**63, size=self.rows, dtype=np.uint64)
        self._mix = mix | np.uint64(1)  # odd multipliers

    def signature(self, normalised: str) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """``(band_hashes int64[bands], signature uint8[num_perm])``, or None for short texts."""
        words = normalised.split()
        if len(words) < self.min_words:
            return None
        n = self.shingle
        shingles = {" ".join(words[i : i + n]).encode("utf-8") for i in range(max(1, len(words) - n + 1))}
        m = self._MinHash(num_perm=self.num_perm, hashfunc=_crc32, permutations=self._perms,
                           scheme=self._scheme)
        m.update_batch(list(shingles))
        hv = np.asarray(m.hashvalues, dtype=np.uint64)
        # band hash: a fixed random linear combination of the band's values (uint64 arithmetic wraps)
        bands = (hv.reshape(self.bands, self.rows) * self._mix).sum(axis=1).view(np.int64)
        return bands, (hv & 0xFF).astype(np.uint8)


class UnionFind:
    """Union-find over row indices; the root of a set is its smallest index."""

    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int64)

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return int(root)

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        lo, hi = (ra, rb) if ra < rb else (rb, ra)
        self.parent[hi] = lo
        return True

    def roots(self) -> np.ndarray:
        for i in range(len(self.parent)):
            if self.parent[i] != i:
                self.find(i)
        return self.parent.copy()


def join_equal(keys: np.ndarray, rows: np.ndarray, uf: UnionFind) -> int:
    """Union all ``rows`` that share a key; returns the number of unions made."""
    if len(rows) < 2:
        return 0
    order = np.argsort(keys, kind="stable")
    k, r = keys[order], rows[order]
    same = np.flatnonzero(k[1:] == k[:-1])
    return sum(uf.union(int(r[i]), int(r[i + 1])) for i in same)


def join_near(bands: np.ndarray, sigs: np.ndarray, rows: np.ndarray, threshold: float, uf: UnionFind) -> int:
    """LSH: rows sharing any band hash are candidates; join those whose signatures agree >= threshold.

    ``bands``/``sigs`` are indexed like ``rows`` (the global row ids). Returns unions made.
    """
    made = 0
    if len(rows) < 2:
        return 0
    for b in range(bands.shape[1]):
        col = bands[:, b]
        order = np.argsort(col, kind="stable")
        sc = col[order]
        starts = np.r_[True, sc[1:] != sc[:-1]]
        run_first = order[np.maximum.accumulate(np.where(starts, np.arange(len(sc)), 0))]
        members = order[~starts]
        firsts = run_first[~starts]
        if not len(members):
            continue
        agree = (sigs[members] == sigs[firsts]).mean(axis=1)
        for m, f in zip(members[agree >= threshold], firsts[agree >= threshold]):
            made += uf.union(int(rows[f]), int(rows[m]))
    return made
