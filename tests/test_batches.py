"""``mlnews.batches.by_length``: every index once, batches of the given size, shortest first, stable."""

import pytest

from mlnews.batches import by_length


def test_batches_cover_every_index_once_shortest_first():
    texts = ["ccc", "a", "bb", "", "dddd", "a"]
    batches = list(by_length(texts, 4))
    assert [len(b) for b in batches] == [4, 2]
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))
    flat = [i for b in batches for i in b]
    assert [len(texts[i]) for i in flat] == sorted(len(t) for t in texts)
    assert flat[:3] == [3, 1, 5]  # ties keep input order


def test_a_key_and_an_empty_input_and_a_bad_size():
    assert list(by_length([{"n": 3}, {"n": 1}], 1, key=lambda r: r["n"])) == [[1], [0]]
    assert list(by_length([], 8)) == []
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        list(by_length(["x"], 0))
