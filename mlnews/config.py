"""Typed configs: YAML files -> dataclasses, with ``key=value`` overrides checked against the schema.

Every config section is a dataclass. :func:`from_dict` rejects unknown keys and wrong types with
one-line messages that name the dotted key and what was expected (nanoGPT / HF-style)::

    cfg = load_config("configs/classifier/tfidf.yaml", TrainConfig, ["train.epochs=3"])

Supported field types: str, int, float, bool, Optional[X], list[X], dict[str, X], Literal[...],
and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from mlnews.errors import ConfigError

#: Numbers YAML 1.1 leaves as strings (``1e-4``, ``5E+3``: an exponent without a dot).
_FLOAT_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")

T = TypeVar("T")


def load_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML mapping; errors name the file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a YAML config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping at the top level, got {type(data).__name__}")
    return data


def option(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
           ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None,
           kinds: tuple[str, ...] | None = None) -> Any:
    """A config field with its bounds (checked by :func:`from_dict`) and the model kinds it applies to.

    ``kinds``: the field (or whole section) is only read for these ``model.kind`` values; setting it
    in a config for another kind is an error instead of being silently ignored (see
    :func:`check_applicable`).
    """
    meta = {"bounds": (ge, gt, le, lt), "kinds": kinds}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _check_bounds(obj: Any, prefix: str) -> None:
    for f in dataclasses.fields(obj):
        ge, gt, le, lt = f.metadata.get("bounds", (None, None, None, None))
        value = getattr(obj, f.name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        key = f"{prefix}.{f.name}" if prefix else f.name
        lo = f">= {ge:g}" if ge is not None else f"> {gt:g}" if gt is not None else None
        hi = f"<= {le:g}" if le is not None else f"< {lt:g}" if lt is not None else None
        bad = (ge is not None and value < ge) or (gt is not None and value <= gt) or \
              (le is not None and value > le) or (lt is not None and value >= lt)
        if bad:
            want = " and ".join(x for x in (lo, hi) if x)
            none = " or null" if "None" in str(f.type) or "Optional" in str(f.type) else ""
            raise ConfigError(f"{key}: expected {want}{none}, got {value!r}")


def given_keys(section: Any) -> frozenset[str]:
    """The keys a config file (or an override) set in this section, as opposed to defaults."""
    return getattr(section, "_given", frozenset())


def check_applicable(cfg: Any, kind: str, prefix: str = "") -> None:
    """Refuse keys that were set but that ``kind`` (the config's ``model.kind``) would ignore."""
    for f in dataclasses.fields(cfg):
        key = f"{prefix}.{f.name}" if prefix else f.name
        kinds = f.metadata.get("kinds")
        if f.name in given_keys(cfg) and kinds is not None and kind not in kinds:
            raise ConfigError(
                f"{key}: not used by model.kind {kind} (only by {', '.join(kinds)}); remove it"
            )
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value) and f.name in given_keys(cfg):
            check_applicable(value, kind, key)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        return f"list[{_type_name(get_args(tp)[0])}]"
    if origin is dict:
        return f"mapping of {_type_name(get_args(tp)[1])}"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except ConfigError:
                continue  # try the next member; the message below names the whole union
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not allowed; expected one of {', '.join(map(repr, allowed))}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item_tp,) = get_args(tp)
        return [_convert(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        _, val_tp = get_args(tp)
        return {str(k): _convert(v, val_tp, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads 1e-4 (no dot) as a string
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def from_dict(cls: type[T], data: Any, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types."""
    where = prefix or "config"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else str(unknown[0])
        raise ConfigError(f"{key}: unknown key; allowed keys here: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: required key is missing (expected {_type_name(hints[name])})")
    try:
        obj = cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    obj._given = frozenset(data)  # type: ignore[attr-defined]  # which keys were set (see check_applicable)
    _check_bounds(obj, prefix)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate(prefix)
    return obj


def _switched_off(value: Any) -> bool:
    """A section that is off (``distill`` without a teacher) is left out of a dumped config: its other keys
    would be refused on the way back in, because nothing reads them."""
    return dataclasses.is_dataclass(value) and callable(getattr(value, "switched_off", None)) and value.switched_off()


def to_dict(obj: Any, kind: str | None = None) -> Any:
    """Dataclass (nested) -> plain dict, suitable for YAML/JSON; with ``kind``, fields that do not apply
    to that ``model.kind`` are left out (so a dumped config loads back without errors)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name), kind) for f in dataclasses.fields(obj)
                if kind is None or ((f.metadata.get("kinds") is None or kind in f.metadata["kinds"])
                                    and not _switched_off(getattr(obj, f.name)))}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v, kind) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v, kind) for k, v in obj.items()}
    return obj


def _schema_for(cls: Any, dotted: list[str], full: str) -> Any:
    tp = cls
    for i, part in enumerate(dotted):
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            non_none = [a for a in get_args(tp) if a is not type(None)]
            tp = non_none[0] if len(non_none) == 1 else tp
            origin = get_origin(tp)
        if dataclasses.is_dataclass(tp):
            names = {f.name for f in dataclasses.fields(tp)}
            if part not in names:
                here = ".".join(dotted[:i]) or "top level"
                raise ConfigError(
                    f"{full}: unknown key {part!r} at {here}; allowed keys: {', '.join(sorted(names))}"
                )
            tp = get_type_hints(tp)[part]
        elif origin is dict:
            tp = get_args(tp)[1]
        elif origin is list:  # an item by index (sources.0) or by its `name` (sources.lenta), checked on the data
            tp = get_args(tp)[0]
        else:
            raise ConfigError(f"{full}: {'.'.join(dotted[:i])} is not a mapping")
    return tp


def _list_item(items: list, part: str, where: str, full: str) -> tuple[int, Any]:
    """``(index, item)`` of a list addressed by position (``0``) or by the ``name`` of a mapping item."""
    if part.lstrip("-").isdigit():
        i = int(part)
        if not -len(items) <= i < len(items):
            raise ConfigError(f"{full}: {where} has {len(items)} items; no item {i}")
        return i % len(items), items[i]
    for i, it in enumerate(items):
        if isinstance(it, dict) and it.get("name") == part:
            return i, it
    known = ", ".join(str(it["name"]) for it in items if isinstance(it, dict) and it.get("name") is not None) or "none"
    raise ConfigError(f"{full}: {where} has no item named {part!r} (an index or one of: {known})")


def apply_overrides(data: dict, overrides: list[str] | tuple[str, ...], cls: type) -> dict:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) after checking the key exists in ``cls``.

    List items are addressed by index or, for mappings with a ``name``, by name:
    ``sources.0.cap=100`` or ``sources.lenta.cap=100``.
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. train.epochs=3")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"override {item!r}: empty key")
        dotted = key.split(".")
        _schema_for(cls, dotted, key)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node: Any = data
        for i, part in enumerate(dotted):
            last = i == len(dotted) - 1
            if isinstance(node, list):
                j, item = _list_item(node, part, ".".join(dotted[:i]), key)
                if last:
                    node[j] = value
                node = item
                continue
            if last:
                node[part] = value
                break
            nxt = node.get(part)
            if nxt is None and get_origin(_schema_for(cls, dotted[: i + 1], key)) is list:
                raise ConfigError(f"{key}: the config has no {'.'.join(dotted[: i + 1])} list to address")
            if not isinstance(nxt, (dict, list)):
                nxt = {}
                node[part] = nxt
            node = nxt
    return data


def load_config(path: str | os.PathLike, cls: type[T], overrides: list[str] | tuple[str, ...] = ()) -> T:
    """Load a YAML config into ``cls`` with overrides; errors are one line and name the key."""
    data = load_yaml(path)
    data = apply_overrides(data, list(overrides), cls)
    try:
        cfg = from_dict(cls, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    cfg._config_file = Path(path)  # type: ignore[attr-defined]  # base of its relative paths
    return cfg


def repo_root_for(config_path: Path) -> Path:
    """The folder above ``config_path`` that holds ``configs/`` (else the config's own folder)."""
    for parent in config_path.resolve().parents:
        if (parent / "configs").is_dir() or (parent / "pyproject.toml").is_file():
            return parent
    return config_path.resolve().parent


class PathResolver:
    """The one rule for relative paths in configs: the config file's folder, then the CWD, then the
    repository root (the checkout holding the config, then the one mlnews runs from).

    An absolute path (or ``~/...``) is used as is. ``config_path=None`` (a config built in code) starts
    at the CWD.
    """

    def __init__(self, config_path: str | os.PathLike | None):
        bases = []
        if config_path is not None:
            config_path = Path(config_path)
            bases.append(config_path.resolve().parent)
        bases.append(Path.cwd())
        if config_path is not None:
            bases.append(repo_root_for(config_path))
        bases.append(project_root())  # the shipped configs/ (taxonomy, keywords, mappings)
        self.bases = list(dict.fromkeys(b.resolve() for b in bases))

    def find(self, value: str) -> Path | None:
        """The first existing candidate for ``value`` (resolved), else None."""
        p = Path(os.path.expanduser(value))
        for c in [p] if p.is_absolute() else [b / p for b in self.bases]:
            if c.exists():
                return c.resolve()
        return None

    def file(self, value: str, key: str, *, kind: str = "file") -> Path:
        found = self.find(value)
        if found is not None:
            return found
        p = Path(os.path.expanduser(value))
        tried = ", ".join(os.path.normpath(c) for c in ([p] if p.is_absolute() else [b / p for b in self.bases]))
        raise ConfigError(f"{key}: {kind} {value!r} not found (looked in {tried})")

    def many(self, value: str, key: str) -> list[Path]:
        """A file, a folder (all its files, sorted) or a glob pattern -> sorted list of files."""
        import glob

        if any(ch in value for ch in "*?["):
            p = Path(os.path.expanduser(value))
            patterns = [str(p)] if p.is_absolute() else [str(b / p) for b in self.bases]
            for pat in patterns:
                hits = sorted(Path(h).resolve() for h in glob.glob(pat, recursive=True) if Path(h).is_file())
                if hits:
                    return hits
            raise ConfigError(f"{key}: no files match {value!r} (looked in {', '.join(map(str, self.bases))})")
        path = self.file(value, key)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not files:
                raise ConfigError(f"{key}: folder {path} has no files")
            return files
        return [path]


def resolve_path(value: str, config_path: str | os.PathLike | None = None) -> Path:
    """``value`` by the one path rule (:class:`PathResolver`); a path that exists nowhere comes back as is."""
    return PathResolver(config_path).find(value) or Path(os.path.expanduser(value))


def config_file(cfg: Any) -> Path | None:
    """The file a config was loaded from (:func:`load_config`), for resolving its relative paths."""
    return getattr(cfg, "_config_file", None)


def project_root() -> Path:
    """The repository root when running from a checkout (where configs/ lives)."""
    return Path(__file__).resolve().parent.parent


def dump_yaml(obj: Any) -> str:
    """The whole resolved config as YAML (only the keys that apply to its ``model.kind``)."""
    kind = getattr(getattr(obj, "model", None), "kind", None)
    return yaml.safe_dump(to_dict(obj, kind), allow_unicode=True, sort_keys=False)


_ = typing  # keep the import for get_type_hints on postponed annotations
