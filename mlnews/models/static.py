"""Static token embeddings (``model.kind: static``): a text is the weighted mean of its pieces' vectors.

model2vec's idea: run every vocabulary piece through a sentence encoder once (``mlnews.train.static``
distils, reduces with PCA and weights the vectors), store the table, and embed a text at inference
by tokenising it and averaging the table rows of its pieces -- no network, so it runs at tokeniser
speed. This module is the part training and inference share (the train layer may not import
``mlnews.infer``), and it needs only ``tokenizers``, numpy and scipy: no torch, no transformers.

Files in a static model folder (beside ``mlnews.json``)::

    model.safetensors   "embeddings" [pieces, dims] (float16 or float32): the piece weights are already
                        multiplied in; rows of special and unknown pieces are zero. "head.weight"
                        [labels, dims] and "head.bias" [labels] (float32): the logistic-regression head
                        (:class:`LinearHead`). Metadata: format "mlnews-static", "labels" (JSON list, the
                        head's row order), the distillation settings (strings). "words.utf8",
                        "words.indptr", "words.pieces": the word cache filled with the training texts' words
                        (:class:`PieceEncoder`), so that inference tokenises only words it has not seen.
    tokenizer.json      the encoder's tokenizer with its vocabulary pruned to the kept pieces (row i of
                        the table is piece id i)
    head.skops          the same head as the fitted scikit-learn estimator (for scikit-learn users; the
                        mlnews backend reads the matrix, since importing skops takes seconds)

:meth:`StaticEmbedder.embed`: piece ids (:class:`PieceEncoder`: the tokenizer's normaliser, words cut at
whitespace, each word's pieces from the Rust tokenizer once and then from a cache; no special tokens;
truncated to ``max_length`` pieces) -> a sparse ``[texts, pieces]`` count matrix times the table (the
sum of the rows) -> unit length. Summing then normalising equals averaging then normalising; zero rows (unknown pieces)
contribute nothing, and a text with no known piece is the zero vector (the head then predicts
from its intercepts alone: a defined answer, never NaN).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mlnews.errors import MlnewsError

TABLE = "model.safetensors"
TOKENIZER = "tokenizer.json"
TENSOR = "embeddings"
HEAD_WEIGHT, HEAD_BIAS = "head.weight", "head.bias"  # the logistic-regression head as a matrix (LinearHead)
#: The shipped word cache (PieceEncoder.prefill): the words, UTF-8, "\n"-separated (a cached word never holds
#: whitespace); where each word's pieces start in WORD_PIECES, [words + 1]; the pieces, concatenated.
WORDS, WORD_INDPTR, WORD_PIECES = "words.utf8", "words.indptr", "words.pieces"
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


#: Unicode White_Space (what the tokenizers pre-tokenizers split on; Python's ``\\s`` also has U+001C-U+001F).
_WHITESPACE = re.compile(r"[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
#: Words whose pieces :class:`PieceEncoder` keeps (cleared when full; headline vocabularies stay far below).
CACHE_WORDS = 500_000


def _splits_on_whitespace_first(pre: Any) -> bool:
    """True for pre-tokenizers that cut a text into whitespace-separated words first and treat each word on
    its own: XLM-R / e5's ``WhitespaceSplit`` + ``Metaspace(prepend_scheme=always)``, and BERT's."""
    if not isinstance(pre, dict):
        return False
    if pre.get("type") == "BertPreTokenizer":
        return True
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    return bool(steps) and len(steps) == 2 and steps[0].get("type") == "WhitespaceSplit" and \
        steps[1].get("type") == "Metaspace" and steps[1].get("prepend_scheme", "always") == "always"


class PieceEncoder:
    """Texts -> piece ids without special tokens, truncated to the tokenizer's ``max_length``.

    For tokenizers whose pre-tokenizer splits on whitespace first (e5 / XLM-R, BERT), a text is normalised
    (the tokenizer's own normaliser), cut at whitespace, and each word's pieces come from a word cache filled
    by the tokenizer itself (normaliser off, the word already normalised): the same ids as
    ``encode_batch(texts, add_special_tokens=False)`` (checked on every text of the default dataset), several
    times faster on headlines, whose words repeat. The one known difference: a word that normalisation
    turns into a special token's text (fullwidth ``＜mask＞`` -> ``<mask>``) becomes that special token (a
    zero row) instead of its text pieces. Any other tokenizer runs ``encode_batch`` as is.

    The cache is two arrays (every cached word's pieces concatenated, and where each word's pieces start and
    end, CSR-style) and a ``word -> index`` dict, so a batch is looked up with ``map(dict.get)`` and gathered
    with numpy instead of a Python loop over pieces. A static folder ships the cache filled with the words of
    its training texts (:meth:`export` / :meth:`prefill`), so the tokenizer runs only on words it has never
    seen; when the cache outgrows :data:`CACHE_WORDS` it goes back to the shipped words.
    """

    def __init__(self, tokenizer: Any) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = tokenizer
        trunc = tokenizer.truncation
        self.max_length = int(trunc["max_length"]) if trunc else None
        spec = json.loads(tokenizer.to_str())
        self.fast = _splits_on_whitespace_first(spec.get("pre_tokenizer"))
        self._reset([], np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
        if self.fast:
            norm = tokenizer.normalizer
            self._normalize = norm.normalize_str if norm is not None else (lambda t: t)
            self._words = Tokenizer.from_str(tokenizer.to_str())
            self._words.normalizer = None
            self._words.no_truncation()
            self._words.no_padding()

    def _reset(self, words: list[str], flat: np.ndarray, indptr: np.ndarray) -> None:
        self._shipped = (words, flat, indptr)
        self._index: dict[str, int] = dict(zip(words, range(len(words))))
        self._flat = np.asarray(flat, dtype=np.int64)
        self._indptr = np.asarray(indptr, dtype=np.int64)  # word i: _flat[_indptr[i]:_indptr[i + 1]]

    def __len__(self) -> int:
        """Words in the cache."""
        return len(self._index)

    def prefill(self, words: Sequence[str], flat: np.ndarray, indptr: np.ndarray) -> None:
        """Replace the cache by ``words`` whose pieces are ``flat[indptr[i]:indptr[i + 1]]`` (from :meth:`export`)."""
        self._reset(list(words), flat, indptr)

    def export(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(words, flat piece ids, indptr)`` of everything cached, in cache order."""
        return list(self._index), self._flat.copy(), self._indptr.copy()

    def _add_words(self, words: list[str]) -> None:
        # encode_batch_fast (tokenizers >= 0.20) skips the offsets: 3x faster on a batch of new words, same ids
        encode = getattr(self._words, "encode_batch_fast", None) or self._words.encode_batch
        encs = encode(words, add_special_tokens=False)
        lens = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        new_flat = np.fromiter(itertools.chain.from_iterable(e.ids for e in encs), dtype=np.int64, count=int(lens.sum()))
        base = len(self._index)
        self._index.update(zip(words, range(base, base + len(words))))
        self._indptr = np.concatenate([self._indptr, self._indptr[-1] + np.cumsum(lens)])
        self._flat = np.concatenate([self._flat, new_flat])

    def ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(flat piece ids, indptr)`` (CSR layout: text i is ``flat[indptr[i]:indptr[i + 1]]``)."""
        if not self.fast:
            return _encode_batch(self.tokenizer, texts)
        if len(self._index) > CACHE_WORDS:
            self._reset(*self._shipped)
        normalize, split = self._normalize, _WHITESPACE.split
        words = [split(normalize(t)) for t in texts]
        n = len(texts)
        per_text = np.fromiter(map(len, words), dtype=np.int64, count=n)
        occurrences = list(itertools.chain.from_iterable(words))
        get = self._index.get
        wid = list(map(get, occurrences))
        if None in wid:
            self._add_words(list(dict.fromkeys(w for w, i in zip(occurrences, wid) if i is None)))
            wid = list(map(get, occurrences))  # _add_words updates the same dict
        wid = np.fromiter(wid, dtype=np.int64, count=len(occurrences))
        starts = self._indptr[wid]
        lens = self._indptr[wid + 1] - starts  # pieces of each word occurrence ("" from edge whitespace has none)
        total = int(lens.sum())
        out_start = np.cumsum(lens) - lens
        flat = self._flat[np.arange(total, dtype=np.int64) + np.repeat(starts - out_start, lens)]
        text_of = np.repeat(np.arange(n, dtype=np.int64), per_text)
        counts = np.bincount(text_of, weights=lens, minlength=n).astype(np.int64)
        cap = self.max_length
        if cap is not None and counts.max(initial=0) > cap:
            first = np.cumsum(counts) - counts
            owner = np.repeat(np.arange(n, dtype=np.int64), counts)
            flat = flat[np.arange(total, dtype=np.int64) - first[owner] < cap]
            counts = np.minimum(counts, cap)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return flat, indptr


def _encode_batch(tokenizer: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    encode = getattr(tokenizer, "encode_batch_fast", None) or tokenizer.encode_batch  # _fast: no offsets
    encs = encode(list(texts), add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
    indptr = np.zeros(len(encs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    flat = np.fromiter(itertools.chain.from_iterable(e.ids for e in encs), dtype=np.int64, count=int(indptr[-1]))
    return flat, indptr


def encode_ids(tokenizer: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(flat piece ids, indptr)`` of ``texts`` with the tokenizer alone (``encode_batch``, no special tokens)."""
    return _encode_batch(tokenizer, texts)


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


class LinearHead:
    """``softmax(x @ weight.T + bias)``: the logistic-regression head as plain arrays, in the manifest's label
    order (a label the head never saw has bias -1e4: probability 0), stored in ``model.safetensors`` so that
    loading needs no scikit-learn (importing skops + scikit-learn takes seconds; the head alone is a matrix)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, labels: Sequence[str]) -> None:
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        self.bias = np.ascontiguousarray(bias, dtype=np.float32)
        self.labels = [str(x) for x in labels]
        if self.weight.shape[0] != len(self.labels) or self.bias.shape != (len(self.labels),):
            raise MlnewsError(f"static head: weight {self.weight.shape} / bias {self.bias.shape} do not fit "
                              f"{len(self.labels)} labels")

    @classmethod
    def from_estimator(cls, estimator: Any, labels: Sequence[str]) -> "LinearHead":
        """From a fitted scikit-learn ``LogisticRegression`` (columns mapped from its sorted ``classes_``)."""
        classes = [str(c) for c in estimator.classes_]
        index = {name: i for i, name in enumerate(labels)}
        missing = [c for c in classes if c not in index]
        if missing:
            raise MlnewsError(f"static head: classes {missing} are not labels of this model")
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        intercept = np.asarray(estimator.intercept_, dtype=np.float64)
        if len(classes) == 2 and coef.shape[0] == 1:  # binary: sigmoid(z) = softmax(0, z)
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        weight = np.zeros((len(labels), coef.shape[1]), dtype=np.float32)
        bias = np.full(len(labels), -1e4, dtype=np.float32)
        cols = [index[c] for c in classes]
        weight[cols] = coef
        bias[cols] = intercept
        return cls(weight, bias, labels)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weight.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z


class StaticEmbedder:
    """``embed(texts) -> float32 [n, dims]``: the unit-length sum of the texts' piece vectors; ``head`` is the
    folder's :class:`LinearHead` (None before training has fitted one)."""

    def __init__(self, table: np.ndarray, tokenizer: Any, *, meta: dict[str, str] | None = None,
                 head: LinearHead | None = None) -> None:
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.tokenizer = tokenizer
        self.pieces = PieceEncoder(tokenizer)
        self.meta = dict(meta or {})
        self.head = head
        import scipy.sparse  # noqa: F401 - imported here (0.1-0.2 s) so that loading, not the first call, pays
        n_vocab = tokenizer.get_vocab_size(with_added_tokens=True)
        if n_vocab != self.table.shape[0]:
            raise MlnewsError(f"static model: the table has {self.table.shape[0]} rows but the tokenizer "
                              f"has {n_vocab} pieces; the folder is inconsistent")
        if head is not None and head.weight.shape[1] != self.dim:
            raise MlnewsError(f"static model: the head expects {head.weight.shape[1]} features but the table has "
                              f"{self.dim} dimensions; the folder is inconsistent")

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    @classmethod
    def load(cls, folder: str | os.PathLike, *, max_length: int | None = None) -> "StaticEmbedder":
        """Read ``model.safetensors`` (table and head) + ``tokenizer.json`` of a static model folder."""
        from safetensors import SafetensorError, safe_open

        folder = Path(folder)
        path = folder / TABLE
        if not path.is_file():
            raise MlnewsError(f"{path}: the static embedding table is missing")
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = fh.metadata() or {}
                names = set(fh.keys())
                if TENSOR not in names:
                    raise MlnewsError(f"{path}: no {TENSOR!r} tensor; is this a static model folder?")
                tensors = {k: fh.get_tensor(k) for k in (TENSOR, HEAD_WEIGHT, HEAD_BIAS, WORDS, WORD_INDPTR,
                                                         WORD_PIECES) if k in names}
        except (SafetensorError, OSError, ValueError) as exc:
            raise MlnewsError(f"{path}: not a readable safetensors file ({exc})") from None
        if meta.get("format") != FORMAT:
            raise MlnewsError(f"{path}: metadata format is {meta.get('format')!r}, expected {FORMAT!r}")
        for name in (TENSOR, HEAD_WEIGHT, HEAD_BIAS):
            arr = tensors.get(name)
            if arr is not None and not np.isfinite(arr).all():
                raise MlnewsError(f"{path}: {name!r} has values that are not finite")
        table = tensors[TENSOR]
        if table.ndim != 2:
            raise MlnewsError(f"{path}: {TENSOR!r} must be a [pieces, dims] matrix, got shape {table.shape}")
        head = None
        if HEAD_WEIGHT in tensors and HEAD_BIAS in tensors:
            try:
                labels = json.loads(meta.get("labels", "null"))
            except ValueError:
                labels = None
            if not isinstance(labels, list):
                raise MlnewsError(f"{path}: metadata 'labels' must be a JSON list of the head's label names")
            head = LinearHead(tensors[HEAD_WEIGHT], tensors[HEAD_BIAS], labels)
        embedder = cls(table, load_tokenizer(folder / TOKENIZER, max_length), meta=meta, head=head)
        if any(k in tensors for k in (WORDS, WORD_INDPTR, WORD_PIECES)):
            embedder.pieces.prefill(*_word_cache(path, tensors, table.shape[0]))
        return embedder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        flat, indptr = self.pieces.ids(texts)
        summed = count_matrix(flat, indptr, self.table.shape[0]) @ self.table
        return unit_rows(np.asarray(summed, dtype=np.float32))

    def save(self, folder: str | os.PathLike, *, dtype: str = "float16", tokenizer_json: str | None = None,
             words: tuple[list[str], np.ndarray, np.ndarray] | None = None) -> None:
        """Write the table (as ``dtype``), the head (float32), the word cache ``words`` (from
        :meth:`PieceEncoder.export`; none by default) and the tokenizer into ``folder``, atomically."""
        from safetensors.numpy import save

        from mlnews.io import atomic_write

        folder = Path(folder)
        meta = {"format": FORMAT, **{k: str(v) for k, v in self.meta.items() if k not in ("format", "labels")}}
        tensors = {TENSOR: np.ascontiguousarray(self.table.astype(dtype))}
        if self.head is not None:
            tensors.update({HEAD_WEIGHT: self.head.weight, HEAD_BIAS: self.head.bias})
            meta["labels"] = json.dumps(self.head.labels, ensure_ascii=False)
        if words is not None and words[0]:
            names, flat, indptr = words
            tensors[WORDS] = np.frombuffer("\n".join(names).encode("utf-8"), dtype=np.uint8).copy()
            tensors[WORD_INDPTR] = np.asarray(indptr, dtype=np.int64)
            tensors[WORD_PIECES] = np.asarray(flat, dtype=np.int32)
        with atomic_write(folder / TABLE, "wb") as fh:
            fh.write(save(tensors, metadata=meta))
        text = tokenizer_json if tokenizer_json is not None else self.tokenizer.to_str()
        with atomic_write(folder / TOKENIZER) as fh:
            fh.write(text)


def _word_cache(path: Path, tensors: dict[str, np.ndarray], n_pieces: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The shipped word cache of ``model.safetensors``, checked against the table (one-line errors)."""
    missing = [k for k in (WORDS, WORD_INDPTR, WORD_PIECES) if k not in tensors]
    if missing:
        raise MlnewsError(f"{path}: the word cache is incomplete (missing {', '.join(missing)})")
    try:
        text = tensors[WORDS].astype(np.uint8).tobytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MlnewsError(f"{path}: {WORDS!r} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    words = text.split("\n")
    indptr = np.asarray(tensors[WORD_INDPTR], dtype=np.int64)
    flat = np.asarray(tensors[WORD_PIECES], dtype=np.int64)
    if indptr.ndim != 1 or len(indptr) != len(words) + 1 or indptr[0] != 0 or indptr[-1] != len(flat) \
            or (np.diff(indptr) < 0).any():
        raise MlnewsError(f"{path}: {WORD_INDPTR!r} does not fit {len(words)} words and {len(flat)} pieces")
    if len(flat) and (flat.min() < 0 or flat.max() >= n_pieces):
        raise MlnewsError(f"{path}: {WORD_PIECES!r} holds piece ids outside the table's {n_pieces} rows")
    if len(set(words)) != len(words) or any(_WHITESPACE.search(w) for w in words if w):
        raise MlnewsError(f"{path}: {WORDS!r} must be distinct words without whitespace")
    return words, flat, indptr


def piece_counts(tokenizer: Any, texts: Sequence[str], n_pieces: int) -> np.ndarray:
    """How often each piece occurs in ``texts`` (no special tokens, truncated as the model is), ``int64 [n_pieces]``."""
    counts = np.zeros(n_pieces, dtype=np.int64)
    pieces = PieceEncoder(tokenizer)
    for start in range(0, len(texts), 4096):
        flat, _ = pieces.ids(texts[start : start + 4096])
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
