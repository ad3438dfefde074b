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
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except ConfigError as exc:
                errors.append(exc)
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
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate(prefix)
    return obj


def to_dict(obj: Any) -> Any:
    """Dataclass (nested) -> plain dict, suitable for YAML/JSON."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
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
        return from_dict(cls, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def resolve_path(value: str, base: str | os.PathLike) -> Path:
    """Resolve a path from a config: absolute, relative to the CWD if it exists, else to ``base``."""
    p = Path(os.path.expanduser(value))
    if p.is_absolute() or p.exists():
        return p
    candidate = Path(base) / p
    return candidate if candidate.exists() else p


def project_root() -> Path:
    """The repository root when running from a checkout (where configs/ lives)."""
    return Path(__file__).resolve().parent.parent


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(to_dict(obj), allow_unicode=True, sort_keys=False)


_ = typing  # keep the import for get_type_hints on postponed annotations
