"""Topic taxonomies (``configs/taxonomy/*.yaml``) and source-label mapping tables."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Optional

from mlnews.config import from_dict, load_yaml
from mlnews.errors import ConfigError
from mlnews.types import LabelSet


@dataclass
class TaxonomyLabel:
    name: str
    description: str = ""


@dataclass
class Taxonomy:
    """An ordered list of labels; the order fixes label ids (``labels.json``, model heads)."""

    name: str
    labels: list[TaxonomyLabel]

    def validate(self, prefix: str = "") -> None:
        names = [lab.name for lab in self.labels]
        if not names:
            raise ConfigError("labels: expected at least one label")
        for i, n in enumerate(names):
            if not n or names.index(n) != i:
                raise ConfigError(f"labels[{i}].name: empty or duplicate label name {n!r}")

    @property
    def names(self) -> list[str]:
        return [lab.name for lab in self.labels]

    @property
    def labelset(self) -> LabelSet:
        return LabelSet(self.names)

    def to_json(self) -> dict:
        """The content of ``labels.json``."""
        return {
            "taxonomy": self.name,
            "labels": self.names,
            "descriptions": {lab.name: lab.description for lab in self.labels},
        }


def load_taxonomy(path: str | os.PathLike) -> Taxonomy:
    """Read a taxonomy YAML (``name``, ``labels: [{name, description}]``); errors name the key."""
    data = load_yaml(path)
    try:
        return from_dict(Taxonomy, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


@dataclass
class LabelMapper:
    """Maps a source's own label strings to taxonomy names and counts what it could not map.

    ``table`` None means the source's labels are expected to be taxonomy names already. A table
    value of ``null`` marks a label deliberately left unmapped; a label absent from the table is
    also unmapped. Unmapped labels are counted per source, never guessed.
    """

    taxonomy: Taxonomy
    tables: dict[str, dict[str, Optional[str]]]
    unmapped: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def __post_init__(self) -> None:
        allowed = set(self.taxonomy.names)
        for tname, table in self.tables.items():
            for raw, target in table.items():
                if target is not None and target not in allowed:
                    raise ConfigError(
                        f"label_maps.{tname}.{raw}: {target!r} is not a label of taxonomy "
                        f"{self.taxonomy.name!r}; expected one of: {', '.join(self.taxonomy.names)} (or null)"
                    )

    def map(self, source: str, table: Optional[str], raw: str) -> Optional[str]:
        """The taxonomy label for ``raw``, or None (and the raw label is counted as unmapped)."""
        if table is None:
            target = raw if raw in self.taxonomy.names else None
        else:
            target = self.tables[table].get(raw)
        if target is None:
            self.unmapped[source][raw] += 1
        return target
