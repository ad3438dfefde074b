"""Exact keys, MinHash LSH near-duplicates, group-aware splits."""

from __future__ import annotations

import numpy as np

from mlnews.data.dedup import MinHasher, UnionFind, hash64, join_equal, join_near
from mlnews.data.split import assign_splits
from mlnews.text import normalise_for_match


def _near_groups(texts, threshold=0.8):
    h = MinHasher(num_perm=64, bands=8, shingle=2, min_words=4)
    rows, bands, sigs = [], [], []
    for i, t in enumerate(texts):
        s = h.signature(normalise_for_match(t))
        if s is not None:
            rows.append(i)
            bands.append(s[0])
            sigs.append(s[1])
    uf = UnionFind(len(texts))
    join_near(np.array(bands), np.array(sigs), np.array(rows), threshold, uf)
    return uf.roots()


def test_exact_key_ignores_case_punctuation_and_yo():
    assert hash64(normalise_for_match("Ёлка, в ЦЕНТРЕ!")) == hash64(normalise_for_match("елка в центре"))
    assert hash64("a") != hash64("b")


def test_near_duplicates_share_a_group_and_distinct_texts_do_not():
    texts = [
        "Правительство утвердило новые правила выдачи ипотеки для молодых семей в регионах",
        "Правительство утвердило новые правила выдачи ипотеки для молодых семей в регионах страны",
        "Сборная Украины по футболу обыграла команду Англии в отборочном матче чемпионата",
        "Учёные нашли на дне океана бактерии, которые питаются пластиком и металлом",
        "Коротко",  # too short for MinHash: never grouped by near-dup
    ]
    roots = _near_groups(texts)
    assert roots[1] == roots[0] == 0
    assert len({roots[0], roots[2], roots[3], roots[4]}) == 4


def test_minhash_is_deterministic():
    h1, h2 = MinHasher(), MinHasher()
    t = normalise_for_match("Центробанк сохранил ключевую ставку на уровне шестнадцати процентов")
    b1, s1 = h1.signature(t)
    b2, s2 = h2.signature(t)
    assert (b1 == b2).all() and (s1 == s2).all()


def test_join_equal_unions_rows_with_same_key():
    uf = UnionFind(5)
    assert join_equal(np.array([7, 3, 7, 3, 9]), np.arange(5), uf) == 2
    roots = uf.roots()
    assert roots[2] == 0 and roots[3] == 1 and roots[4] == 4


def test_split_keeps_groups_together_stratifies_and_is_deterministic():
    rng = np.random.default_rng(0)
    n = 3000
    groups = rng.integers(0, 900, size=n)  # ~3 rows per group
    strata = groups % 3  # one label per group
    test_ok = np.ones(n, dtype=bool)
    split = assign_splits(groups, strata, test_ok, (0.8, 0.1, 0.1), seed=5)
    for g in np.unique(groups):
        assert len(set(split[groups == g])) == 1
    for s in range(3):
        frac = np.bincount(split[strata == s], minlength=3) / (strata == s).sum()
        assert abs(frac[0] - 0.8) < 0.03 and abs(frac[2] - 0.1) < 0.03
    assert (assign_splits(groups, strata, test_ok, (0.8, 0.1, 0.1), seed=5) == split).all()
    assert not (assign_splits(groups, strata, test_ok, (0.8, 0.1, 0.1), seed=6) == split).all()


def test_rows_not_allowed_in_test_stay_out_of_test():
    n = 400
    groups = np.arange(n) // 2
    strata = np.zeros(n, dtype=np.int64)
    test_ok = groups % 4 != 0  # a quarter of the groups hold a weak row
    split = assign_splits(groups, strata, test_ok, (0.7, 0.1, 0.2), seed=1)
    assert (split[~test_ok] != 2).all()
    assert (split[test_ok] == 2).sum() > 0
    # a group with any row that may not go to test is kept out entirely
    mixed = np.zeros(n, dtype=bool)
    mixed[::2] = True  # first row of each group ok, second not
    split2 = assign_splits(groups, strata, mixed, (0.7, 0.1, 0.2), seed=1)
    assert (split2 != 2).all()
