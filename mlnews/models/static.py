"""Static token embeddings (``model.kind: static``): a text is the weighted mean of its pieces' vectors.

model2vec's idea: run every vocabulary piece through a sentence encoder once (``mlnews.train.static``
distils, reduces with PCA and weights the vectors), store the table, and embed a text at inference
by tokenising it and averaging the table rows of its pieces -- no network, so it runs at tokeniser
speed. This module is the part training and inference share (the train layer may not import
``mlnews.infer``), and it needs only ``tokenizers``, numpy and scipy: no torch, no transformers.

Files in a static model folder (beside ``head.skops`` and ``mlnews.json``)::

    model.safetensors   one tensor "embeddings" [pieces, dims] (float16 or float32); the piece weights
                        are already multiplied in; rows of special and unknown pieces are zero.
                        Metadata: format "mlnews-static", the distillation settings (strings).
    tokenizer.json      the encoder's tokenizer with its vocabulary pruned to the kept pieces (row i of
                        the table is piece id i)

:meth:`StaticEmbedder.embed`: ``encode_batch`` (Rust, no special tokens, truncated to ``max_length``
pieces) -> a sparse ``[texts, pieces]`` count matrix times the table (the sum of the rows) -> unit
length. Summing then normalising equals averaging then normalising; zero rows (unknown pieces)
contribute nothing, and a text with no known piece is the zero vector (the head then predicts
from its intercepts alone: a defined answer, never NaN).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mlnews.errors import MlnewsError

TABLE = "model.safetensors"
TOKENIZER = "tokenizer.json"
TENSOR = "embeddings"
FORMAT = "mlnews-static"


def load_tokenizer(path: str | os.PathLike, max_length: int | None = None) -> Any:
    """A ``tokenizers.Tokenizer`` from ``tokenizer.json``: no padding, truncated to ``max_length`` pieces."""
    from tokenizers import Tokenizer

    path = Path(path)
    if not path.is_file():
        raise MlnewsError(f"{path}: the static model's tokenizer is missing")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - a corrupt file, whatever the parser says
        raise MlnewsError(f"{path}: not a readable tokenizer.json ({type(exc).__name__}: {exc})") from None
    tok.no_padding()
    if max_length:
        tok.enable_truncation(int(max_length))
    else:
        tok.no_truncation()
    return tok


def encode_ids(tokenizer: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(flat piece ids, indptr)`` of ``texts`` without special tokens (CSR layout: text i is
    ``flat[indptr[i]:indptr[i + 1]]``)."""
    encode = getattr(tokenizer, "encode_batch_fast", None) or tokenizer.encode_batch  # _fast: no offsets
    encs = encode(list(texts), add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
    indptr = np.zeros(len(encs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    flat = np.fromiter(itertools.chain.from_iterable(e.ids for e in encs), dtype=np.int64, count=int(indptr[-1]))
    return flat, indptr


def count_matrix(flat: np.ndarray, indptr: np.ndarray, n_pieces: int) -> Any:
    """The sparse ``[texts, pieces]`` matrix of piece counts (duplicates summed)."""
    from scipy.sparse import csr_matrix

    data = np.ones(len(flat), dtype=np.float32)
    return csr_matrix((data, flat, indptr), shape=(len(indptr) - 1, n_pieces))


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length in place; zero rows stay zero."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


class StaticEmbedder:
    """``embed(texts) -> float32 [n, dims]``: the unit-length sum of the texts' piece vectors."""

    def __init__(self, table: np.ndarray, tokenizer: Any, *, meta: dict[str, str] | None = None) -> None:
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.tokenizer = tokenizer
        self.meta = dict(meta or {})
        n_vocab = tokenizer.get_vocab_size(with_added_tokens=True)
        if n_vocab != self.table.shape[0]:
            raise MlnewsError(f"static model: the table has {self.table.shape[0]} rows but the tokenizer "
                              f"has {n_vocab} pieces; the folder is inconsistent")

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    @classmethod
    def load(cls, folder: str | os.PathLike, *, max_length: int | None = None) -> "StaticEmbedder":
        """Read ``model.safetensors`` + ``tokenizer.json`` of a static model folder."""
        from safetensors import SafetensorError
        from safetensors.numpy import safe_open

        folder = Path(folder)
        path = folder / TABLE
        if not path.is_file():
            raise MlnewsError(f"{path}: the static embedding table is missing")
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = fh.metadata() or {}
                if TENSOR not in fh.keys():
                    raise MlnewsError(f"{path}: no {TENSOR!r} tensor; is this a static model folder?")
                table = fh.get_tensor(TENSOR)
        except (SafetensorError, OSError, ValueError) as exc:
            raise MlnewsError(f"{path}: not a readable safetensors file ({exc})") from None
        if meta.get("format") != FORMAT:
            raise MlnewsError(f"{path}: metadata format is {meta.get('format')!r}, expected {FORMAT!r}")
        if table.ndim != 2 or not np.isfinite(table).all():
            raise MlnewsError(f"{path}: {TENSOR!r} must be a finite [pieces, dims] matrix")
        return cls(table, load_tokenizer(folder / TOKENIZER, max_length), meta=meta)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        flat, indptr = encode_ids(self.tokenizer, texts)
        summed = count_matrix(flat, indptr, self.table.shape[0]) @ self.table
        return unit_rows(np.asarray(summed, dtype=np.float32))

    def save(self, folder: str | os.PathLike, *, dtype: str = "float16", tokenizer_json: str | None = None) -> None:
        """Write the table (as ``dtype``) and the tokenizer into ``folder``, atomically."""
        from safetensors.numpy import save

        from mlnews.io import atomic_write

        folder = Path(folder)
        meta = {"format": FORMAT, **{k: str(v) for k, v in self.meta.items() if k != "format"}}
        blob = save({TENSOR: np.ascontiguousarray(self.table.astype(dtype))}, metadata=meta)
        with atomic_write(folder / TABLE, "wb") as fh:
            fh.write(blob)
        text = tokenizer_json if tokenizer_json is not None else self.tokenizer.to_str()
        with atomic_write(folder / TOKENIZER) as fh:
            fh.write(text)


def piece_counts(tokenizer: Any, texts: Sequence[str], n_pieces: int) -> np.ndarray:
    """How often each piece occurs in ``texts`` (no special tokens), ``int64 [n_pieces]``."""
    counts = np.zeros(n_pieces, dtype=np.int64)
    for start in range(0, len(texts), 4096):
        flat, _ = encode_ids(tokenizer, texts[start : start + 4096])
        counts += np.bincount(flat, minlength=n_pieces)[:n_pieces]
    return counts


def special_ids(tokenizer_json: str | os.PathLike) -> list[int]:
    """Ids of the added/special tokens and of the model's unknown piece (their rows are zero)."""
    spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    ids = {int(t["id"]) for t in spec.get("added_tokens", []) if t.get("special", True)}
    model = spec.get("model", {})
    if model.get("type") == "Unigram" and model.get("unk_id") is not None:
        ids.add(int(model["unk_id"]))
    elif isinstance(model.get("unk_token"), str) and model.get("unk_token") in (model.get("vocab") or {}):
        ids.add(int(model["vocab"][model["unk_token"]]))
    return sorted(ids)
