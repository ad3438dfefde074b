"""Sentence splitting for Russian and Ukrainian news text (razdel plus two repairs).

``razdel.sentenize`` already handles initials (``В. Путин``), abbreviations (``т.е.``, ``руб.``,
``тис. грн.``), decimal numbers and dialogue dashes. Two repairs on top:

* a sentence split inside an open quotation (``«Пойдём. Сейчас же».``) is merged back;
* a "sentence" that starts with a lowercase letter is glued to the previous one (an abbreviation
  razdel did not know, e.g. ``проф.`` before a lowercase word).

Paragraph breaks (newlines) always end a sentence. Splitting is lazy, so asking for the first
``max_sentences`` of a 1 MB article costs only those sentences.
"""

from __future__ import annotations

import re
from typing import Iterator

from mlnews.text import clean_line

MAX_MERGED_CHARS = 600  # never let a repair glue more than this much text together

# "МОСКВА, 20 окт – РИА Новости." / "СИРИУС (Краснодарский край), 29 ноя — РИА Новости." /
# "КИЇВ, 3 грудня - Укрінформ.": a wire-agency dateline, not content.
_DATELINE = re.compile(
    r"^[^\W\d_][\w\s().\-]{1,60},\s*\d{1,2}\s+[^\W\d_]{3,9}\.?\s*[—–-]\s*[\w\s.\-]{2,30}?\.?$",
    re.IGNORECASE,
)


def _quote_open(text: str) -> bool:
    if text.count("«") > text.count("»"):
        return True
    if text.count("„") > text.count("“"):
        return True
    return text.count('"') % 2 == 1


def _iter_raw(text: str) -> Iterator[str]:
    from razdel import sentenize

    for para in text.splitlines():
        para = clean_line(para)
        if not para:
            continue
        for sent in sentenize(para):
            s = sent.text.strip()
            if s:
                yield s
        yield "\n"  # paragraph boundary marker


def iter_sentences(text: str) -> Iterator[str]:
    """Yield the sentences of ``text`` in order (paragraph breaks always split)."""
    pending: str | None = None
    for s in _iter_raw(text):
        if s == "\n":
            if pending is not None:
                yield pending
                pending = None
            continue
        if pending is None:
            pending = s
            continue
        glue = (_quote_open(pending) or s[0].islower()) and len(pending) + len(s) < MAX_MERGED_CHARS
        if glue:
            pending = f"{pending} {s}"
        else:
            yield pending
            pending = s
    if pending is not None:
        yield pending


def split_sentences(text: str, max_sentences: int | None = None) -> list[str]:
    """The first ``max_sentences`` sentences of ``text`` (all when None)."""
    out: list[str] = []
    for s in iter_sentences(text):
        if max_sentences is not None and len(out) >= max_sentences:
            break
        out.append(s)
    return out


def count_words(text: str) -> int:
    """Words as a reader counts them: whitespace-separated chunks."""
    return len(text.split())


def truncate_words(text: str, max_words: int) -> str:
    """The first ``max_words`` words of ``text``, with an ellipsis when something was cut."""
    words = text.split()
    if len(words) <= max_words:
        return text
    return " ".join(words[:max_words]).rstrip(",;:—–-") + "…"


def is_dateline(sentence: str) -> bool:
    """True for a wire-agency dateline sentence such as ``МОСКВА, 20 окт – РИА Новости.``"""
    return bool(_DATELINE.match(sentence.strip()))
