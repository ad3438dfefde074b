"""The concepts every stage shares: Article, Headline, LabelSet.

Ingest produces :class:`Article` and :class:`Headline`; the dataset builder turns them into rows of
Hugging Face datasets (columns in docs/ARCHITECTURE.md); a :class:`LabelSet` fixes the label names and
their ids for training and inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional

@dataclass
class Headline:
    """A single headline: a sidebar item of a page, or a row of a headline corpus."""

    text: str
    time: Optional[str] = None  # "HH:MM" for sidebar items, else None
    lang: Optional[str] = None
    id: Optional[str] = None
    source: Optional[str] = None
    label: Optional[str] = None  # the source's own label string, unmapped
    label_origin: Optional[str] = None  # as given by the source (gold, url_section, none, ...)
    published: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        """The compact form used inside ``mlnews parse`` output."""
        return {"text": self.text, "time": self.time, "lang": self.lang}


@dataclass
class Article:
    """A news article: title, lead, body paragraphs and the sidebar headlines found with it."""

    title: str
    lead: Optional[str] = None
    paragraphs: list[str] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    lang: Optional[str] = None
    source: Optional[str] = None  # a file path for pages, a source name for corpora
    id: Optional[str] = None
    url: Optional[str] = None
    label: Optional[str] = None  # the source's own label string, unmapped
    label_origin: Optional[str] = None
    published: Optional[str] = None

    @property
    def body(self) -> str:
        """Body paragraphs joined by newlines (without title and lead)."""
        return "\n".join(self.paragraphs)

    def to_json(self) -> dict[str, Any]:
        """The record printed by ``mlnews parse``."""
        return {
            "title": self.title,
            "lead": self.lead,
            "paragraphs": list(self.paragraphs),
            "headlines": [h.to_json() for h in self.headlines],
            "lang": self.lang,
            "source": self.source,
        }


class LabelSet:
    """An ordered set of label names with stable ids (``label2id`` / ``id2label``)."""

    def __init__(self, names: Iterable[str]):
        names = list(names)
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"duplicate label names: {dupes}")
        if not names:
            raise ValueError("a LabelSet needs at least one label")
        self.names: list[str] = names
        self.label2id: dict[str, int] = {n: i for i, n in enumerate(names)}
        self.id2label: dict[int, str] = dict(enumerate(names))

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.label2id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSet) and self.names == other.names

    def __repr__(self) -> str:
        return f"LabelSet({self.names!r})"

    def encode(self, name: str) -> int:
        try:
            return self.label2id[name]
        except KeyError:
            raise KeyError(f"label {name!r} is not one of {self.names}") from None

    def decode(self, idx: int) -> str:
        return self.id2label[int(idx)]

    def to_json(self) -> list[str]:
        return list(self.names)
