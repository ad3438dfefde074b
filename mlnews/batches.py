"""Length-sorted batching: the one loop every model call over many texts uses.

Texts of similar length share a batch, so a padded batch wastes little compute; callers write each
batch's results back at its indices, so the output keeps the input order.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence


def by_length(items: Sequence[Any], batch_size: int, key: Callable[[Any], int] = len) -> Iterator[list[int]]:
    """Index lists of ``items`` in batches of ``batch_size``, shortest ``key(item)`` first (stable)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(items)), key=lambda i: key(items[i]))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
