"""Text normalisation and model-input composition shared by every stage."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """Lone UTF-16 surrogates (from a JSON escape like ``\\ud800``; UTF-8 cannot encode them) -> U+FFFD."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def clean_line(line: str) -> str:
    """Normalise one line: drop BOM/zero-width chars, NBSP and runs of spaces -> one space, strip."""
    line = _ZERO_WIDTH.sub("", line)
    line = _SPACES.sub(" ", line)
    return line.strip()


_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def normalise_for_match(text: str) -> str:
    """Aggressive key for dedup and leakage checks: NFKC, lowercase, ё->е, no punctuation."""
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    text = _PUNCT.sub(" ", text)
    return " ".join(text.split())


def compose_text(
    text: str,
    lead: str = "",
    body: str = "",
    *,
    use_lead: bool = True,
    body_chars: int = 300,
    prefix: str = "",
) -> str:
    """Build a classifier input: the headline/title, then the lead, then the start of the body.

    Used identically at training and inference time, so the model sees the same shape of
    input in both. ``prefix`` is the model's input prefix (e.g. ``"query: "`` for e5).
    """
    parts = [text.strip()]
    if use_lead and lead:
        parts.append(lead.strip())
    if body_chars > 0 and body:
        snippet = body.strip()[:body_chars]
        if len(body.strip()) > body_chars:
            cut = snippet.rfind(" ")
            if cut > body_chars // 2:
                snippet = snippet[:cut]
        parts.append(snippet)
    return prefix + "\n".join(p for p in parts if p)
