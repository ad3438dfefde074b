"""The data config (``configs/data/*.yaml``): sources, label mapping tables, weak labels, dedup, splits.

Load with :func:`load_data_config`; every path is resolved (absolute, else relative to the CWD,
the config's folder or the repository root holding the config) and a missing file is a one-line
:class:`ConfigError` naming the key. See ``docs/datasets.md`` for every key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, Optional

from mlnews.config import PathResolver, load_config
from mlnews.errors import ConfigError
from mlnews.ingest.corpus import ColumnMapping

SPLITS = ("train", "validation", "test")
# reviewed: a `type: review` source (docs/review.md); pseudo: a model's prediction (the `pseudo:` section), train only
ORIGINS = ("gold", "source_rubric", "weak", "reviewed", "pseudo")


@dataclass
class SourceConfig:
    """One input: a JSONL/CSV corpus, a folder/glob of page dumps, or of HTML pages; or a review file
    (``type: review``: label corrections of ``mlnews review`` that override the labels of other sources' rows)."""

    name: str
    path: str
    type: Literal["corpus", "pages", "html", "review"] = "corpus"
    mapping: Optional[str] = None  # a mapping name from `mappings_file`
    columns: Optional[ColumnMapping] = None  # or an inline column mapping
    label_map: Optional[str] = None  # a table of `label_maps`; None: labels must be taxonomy names
    label_origin: Literal["gold", "source_rubric"] = "source_rubric"
    use_labels: bool = True  # False: every row goes to the weak-label pool
    unmapped: Literal["drop", "weak"] = "drop"  # rows whose label has no mapping
    cap: Optional[int] = None  # at most this many classification rows from this source
    lead_is_summary: bool = True  # the lead field is a real lead (a summarisation target)
    classification: bool = True
    summarisation: bool = True
    strict: bool = True  # malformed row -> error; False: count as `malformed` and go on
    # Every row of this source goes to this split (a held-out gold set: split: test). Rows that are
    # duplicates of it in other sources follow it (no leak); its labels never train the weak labeller.
    split: Optional[Literal["train", "validation", "test"]] = None

    def validate(self, prefix: str = "") -> None:
        if self.cap is not None and self.cap < 0:
            raise ConfigError(f"{prefix}.cap: expected a non-negative integer or null, got {self.cap}")
        if self.type == "review":
            defaults = SourceConfig(self.name, self.path)
            for key in ("mapping", "columns", "label_map", "label_origin", "use_labels", "unmapped", "cap",
                        "lead_is_summary", "classification", "summarisation", "strict", "split"):
                if getattr(self, key) != getattr(defaults, key):
                    raise ConfigError(f"{prefix}.{key}: does not apply to a review source (it only has name and path; "
                                      "reviewed rows keep their own split)")
        if self.type == "corpus" and self.mapping is None and self.columns is None:
            raise ConfigError(f"{prefix}: a corpus source needs `mapping:` (a name in mappings_file) or `columns:`")


@dataclass
class WeakConfig:
    """Weak labels for unlabelled rows: keyword rules on lemmas and/or an in-build TF-IDF model."""

    methods: list[Literal["rules", "tfidf"]] = field(default_factory=lambda: ["rules", "tfidf"])
    threshold: float = 0.6  # below: the row stays unlabelled (counted as below_threshold)
    keywords_file: Optional[str] = "configs/data/keywords.yaml"
    rules_prior: float = 0.5  # confidence = top hits / (all hits + prior)
    tfidf_max_train: int = 20000  # labelled rows sampled (seeded) to train the TF-IDF labeller
    tfidf_C: float = 4.0
    tfidf_max_features: int = 20000  # per vectoriser (word, char)

    def validate(self, prefix: str = "") -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"{prefix}.threshold: expected a number in [0, 1], got {self.threshold}")


@dataclass
class PseudoConfig:
    """Pseudo-labels: ``mlnews classify`` outputs of a fine-tuned model relabel training rows (mlnews.data.pseudo).

    Applied after the split to training rows only; validation, test and every split assignment stay
    those of the same build without them. ``files`` are several views of the same rows (e.g. the article
    opening and its title alone): a row is relabelled only where at least ``min_views`` files predict it,
    all with the same label, each with a score of at least ``threshold``.
    """

    files: list[str] = field(default_factory=list)  # classify outputs (id, label, score); [] = off
    threshold: float = 0.9  # the lowest score over the files (calibrated probabilities)
    min_views: int = 1  # files that must predict a row (2: e.g. its article opening and its title)
    relabel: list[Literal["weak", "source_rubric"]] = field(default_factory=lambda: ["weak"])  # origins replaced
    langs: list[str] = field(default_factory=list)  # only rows of these languages; [] = every language

    def validate(self, prefix: str = "") -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"{prefix}.threshold: expected a number in [0, 1], got {self.threshold}")
        if not self.relabel:
            raise ConfigError(f"{prefix}.relabel: expected at least one of 'weak', 'source_rubric'")
        if self.files and not 1 <= self.min_views <= len(self.files):
            raise ConfigError(f"{prefix}.min_views: expected 1 to {len(self.files)} (the number of files), "
                              f"got {self.min_views}")
        if not self.files:
            for key, default in (("threshold", 0.9), ("min_views", 1), ("relabel", ["weak"]), ("langs", [])):
                if getattr(self, key) != default:
                    raise ConfigError(f"{prefix}.{key}: applies only with pseudo.files (the classify outputs to read)")

    def switched_off(self) -> bool:
        return not self.files


@dataclass
class DedupConfig:
    """Exact duplicates (normalised text) are dropped; near-duplicates (MinHash LSH) share a group."""

    near: bool = True
    threshold: float = 0.8  # estimated Jaccard of word shingles
    num_perm: int = 64
    bands: int = 8  # LSH bands; rows per band = num_perm // bands
    shingle: int = 2  # word n-gram size
    min_words: int = 4  # shorter texts get exact dedup only
    body_min_chars: int = 200  # articles with the same normalised body (at least this long) share a group

    def validate(self, prefix: str = "") -> None:
        if self.bands < 1 or self.num_perm % self.bands:
            raise ConfigError(f"{prefix}.bands: must divide num_perm ({self.num_perm}), got {self.bands}")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"{prefix}.threshold: expected a number in (0, 1], got {self.threshold}")


@dataclass
class ValidationSignalConfig:
    """Training rows moved to validation after the split, for a signal the proportional split cannot give.

    The split puts ~10 % of every label in validation, so a small language/label cell (the Ukrainian
    rows that a source's own sections label sports, economy, ...) leaves only a handful of validation rows.
    This moves ``share`` of the *training* groups whose rows match (``langs``, ``origins``, a label not in
    ``exclude_labels``) to validation, seeded and per label. Test is never touched; an article's
    summarisation row moves with it (a title is never in two splits).
    """

    share: float = 0.0  # 0 = off
    langs: list[str] = field(default_factory=list)  # [] = every language
    origins: list[Literal["gold", "source_rubric"]] = field(default_factory=lambda: ["gold", "source_rubric"])
    exclude_labels: list[str] = field(default_factory=list)  # taxonomy names

    def validate(self, prefix: str = "") -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ConfigError(f"{prefix}.share: expected a share in [0, 1], got {self.share}")
        if self.share == 0.0:
            for key, default in (("langs", []), ("origins", ["gold", "source_rubric"]), ("exclude_labels", [])):
                if getattr(self, key) != default:
                    raise ConfigError(f"{prefix}.{key}: applies only with a share above 0 (nothing moves at 0)")
        if self.share > 0.0 and not self.origins:
            raise ConfigError(f"{prefix}.origins: expected at least one of 'gold', 'source_rubric'")

    def switched_off(self) -> bool:
        return self.share == 0.0


@dataclass
class SplitConfig:
    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1
    test_origins: list[Literal["gold", "source_rubric", "weak", "reviewed"]] = field(
        default_factory=lambda: ["gold", "source_rubric"]
    )
    validation_signal: ValidationSignalConfig = field(default_factory=ValidationSignalConfig)

    def validate(self, prefix: str = "") -> None:
        ratios = {"train": self.train, "validation": self.validation, "test": self.test}
        for k, v in ratios.items():
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{prefix}.{k}: expected a ratio in [0, 1], got {v}")
        if abs(sum(ratios.values()) - 1.0) > 1e-6:
            raise ConfigError(
                f"{prefix}: train + validation + test must sum to 1, got "
                f"{self.train} + {self.validation} + {self.test} = {sum(ratios.values()):g}"
            )
        if self.train <= 0:
            raise ConfigError(f"{prefix}.train: must be > 0")


@dataclass
class DataConfig:
    """A dataset build: which sources, how their labels map to the taxonomy, and how to split."""

    sources: list[SourceConfig]
    name: str = "dataset"
    taxonomy: str = "configs/taxonomy/topics.yaml"
    mappings_file: str = "configs/ingest/shared_data.yaml"
    langs: list[str] = field(default_factory=lambda: ["ru", "uk"])
    seed: int = 13
    min_text_chars: int = 3  # shorter headline/title -> dropped as empty
    min_body_chars: int = 200  # shorter article body -> no summarisation row (empty)
    label_maps: dict[str, dict[str, Optional[str]]] = field(default_factory=dict)
    weak: WeakConfig = field(default_factory=WeakConfig)
    pseudo: PseudoConfig = field(default_factory=PseudoConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    split: SplitConfig = field(default_factory=SplitConfig)

    def validate(self, prefix: str = "") -> None:
        if not self.sources:
            raise ConfigError("sources: expected at least one source")
        names = [s.name for s in self.sources]
        for i, n in enumerate(names):
            if names.index(n) != i:
                raise ConfigError(f"sources[{i}].name: duplicate source name {n!r}")
        for i, s in enumerate(self.sources):
            if s.label_map is not None and s.label_map not in self.label_maps:
                raise ConfigError(
                    f"sources[{i}].label_map: {s.label_map!r} is not a table in label_maps; "
                    f"expected one of: {', '.join(sorted(self.label_maps)) or '(none defined)'}"
                )
        for key, chosen in (("pseudo.langs", self.pseudo.langs), ("split.validation_signal.langs",
                                                                  self.split.validation_signal.langs)):
            stray = [lang for lang in chosen if lang not in self.langs]
            if stray:
                raise ConfigError(f"{key}: {stray[0]!r} is not in langs ({', '.join(self.langs)})")
        bad = [lang for lang in self.langs if lang not in ("ru", "uk", "en", "other")]
        if bad:
            raise ConfigError(f"langs: {bad[0]!r} is not allowed; expected some of 'ru', 'uk', 'en', 'other'")


def load_data_config(
    path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()
) -> tuple[DataConfig, PathResolver]:
    """Load and check a data config; returns it with the resolver for its relative paths."""
    return load_config(path, DataConfig, overrides), PathResolver(path)
