"""``model.kind: static``: static token embeddings distilled from an encoder (model2vec's method) + a linear head.

1. **Vocabulary.** The encoder's vocabulary is pruned to the pieces that the ``static.vocabulary``
   corpus uses (``train``: the composed training inputs; ``dataset``: every text of the dataset folder,
   all splits, article bodies included) with :func:`mlnews.models.prune.prune_vocab` -- the same
   pruner as ``e5-small-ruuk``, which keeps the special tokens and the single Latin/Cyrillic/digit/
   punctuation characters, so an unseen word still splits into known pieces. A tokenizer that is not
   Unigram (SentencePiece) cannot be pruned; its whole vocabulary is kept.
2. **Distillation.** Every kept piece is run through the encoder alone, between the model's special
   tokens (``<s> piece </s>``), and the last hidden states are averaged over those positions
   (model2vec's ``create_embeddings`` with mean pooling). ``model.name_or_path`` may be the packaged
   encoder (``e5-small``) or a fine-tuned classifier folder (its base encoder is loaded with AutoModel).
3. **Reduction and weights.** PCA to ``static.pca_dims`` (fit on the non-special pieces; null = the
   encoder's width, centred but not reduced), then each row
   is multiplied by its weight: ``sif`` = a / (a + p(piece)) with p the piece's frequency in the training
   inputs (smooth inverse frequency, Arora et al. 2017), ``zipf`` = the same with p estimated from the
   vocabulary rank (model2vec's default), or ``none``. Special and unknown pieces get zero rows.
4. **Head.** Texts are embedded by :class:`mlnews.models.static.StaticEmbedder` (the code inference
   runs, on the table as stored, float16 rounding included) and the logistic-regression ``head`` is fit.

The folder holds ``model.safetensors`` (the table and the head's weight matrix and biases),
``tokenizer.json`` and ``head.skops`` (the fitted estimator); inference
(:class:`mlnews.infer.static.StaticBackend`) needs neither torch, transformers nor scikit-learn.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from mlnews.errors import ConfigError, MlnewsError
from mlnews.io import temp_dir
from mlnews.modelfolder import HEAD
from mlnews.models.static import TOKENIZER, LinearHead, StaticEmbedder, load_tokenizer, piece_counts, special_ids
from mlnews.progress import StageProgress
from mlnews.train.head import Timer, fit_head, head_info, save_head

if TYPE_CHECKING:
    from mlnews.train.config import ClassifierConfig
    from mlnews.train.inputs import PreparedData

log = logging.getLogger(__name__)


def vocabulary_texts(source: str, data: "PreparedData") -> list[str]:
    """The corpus whose pieces are kept: the training inputs, or every text of the dataset folder."""
    texts = list(data.splits["train"].inputs)
    if source == "dataset":
        from mlnews.models.prune import iter_corpus_texts

        more, _ = iter_corpus_texts([data.dataset_dir], ("text", "title", "lead", "body"))
        texts += more
    return texts


def tokenizer_type(folder: Path) -> str:
    path = folder / TOKENIZER
    if not path.is_file():
        raise ConfigError(f"model.name_or_path: {folder} has no {TOKENIZER}; model.kind static needs a local "
                          "encoder folder with a fast tokenizer (e5-small, or a fine-tuned classifier folder)")
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("model", {}).get("type"))
    except ValueError as exc:
        raise MlnewsError(f"{path}: malformed JSON ({exc})") from None


def pruned_encoder(model_path: Path, texts: Iterable[str], out: Path, *, check_sample: int = 4
                   ) -> tuple[Path, dict[str, Any]]:
    """``(encoder folder, report)``: ``model_path`` with its vocabulary pruned to ``texts`` (in ``out``), or
    ``model_path`` itself when its tokenizer is not Unigram (the whole vocabulary is then kept).
    ``check_sample``: texts whose hidden states are compared before and after."""
    if tokenizer_type(model_path) != "Unigram":
        return model_path, {"pruned": False, "reason": "not a Unigram tokenizer: the whole vocabulary is kept"}
    from mlnews.models.prune import prune_vocab

    out.mkdir(parents=True, exist_ok=True)
    report = prune_vocab(model_path, texts, out, check_sample=check_sample)
    keys = ("texts", "pieces_before", "pieces_after", "pieces_from_corpus")
    return out, {"pruned": True, **{k: report[k] for k in keys}}


def _wrap_ids(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special-token ids the tokenizer puts before and after a text (``<s>`` / ``</s>``, ``[CLS]`` /
    ``[SEP]``), found by encoding one text with and without them."""
    for probe in ("a", "и", "1", "."):
        plain = tokenizer.encode(probe, add_special_tokens=False).ids
        full = tokenizer.encode(probe, add_special_tokens=True).ids
        if plain:
            for i in range(len(full) - len(plain) + 1):
                if full[i : i + len(plain)] == plain:
                    return full[:i], full[i + len(plain) :]
    return [], []


def distil(encoder_dir: Path, *, batch_size: int = 256,
           progress: Callable[[int], None] | None = None) -> np.ndarray:
    """``float32 [pieces, hidden]``: each piece id's mean last hidden state over ``<s> piece </s>``."""
    import torch

    from mlnews.models.e5 import quiet_transformers
    from mlnews.models.encoder import load_encoder

    tokenizer = load_tokenizer(encoder_dir / TOKENIZER)
    before, after = _wrap_ids(tokenizer)
    n = tokenizer.get_vocab_size(with_added_tokens=True)
    with quiet_transformers():
        model = load_encoder(encoder_dir)
    rows = int(model.get_input_embeddings().weight.shape[0])
    if rows < n:
        raise MlnewsError(f"{encoder_dir}: the tokenizer has {n} pieces but the encoder only {rows} embedding rows")
    out = np.zeros((n, int(model.config.hidden_size)), dtype=np.float32)
    head = torch.tensor(before, dtype=torch.long)
    tail = torch.tensor(after, dtype=torch.long)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            piece = torch.arange(start, min(n, start + batch_size), dtype=torch.long)[:, None]
            b = len(piece)
            ids = torch.cat([head.expand(b, -1), piece, tail.expand(b, -1)], dim=1)
            hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
            out[start : start + b] = hidden.float().mean(dim=1).numpy()
            if progress is not None:
                progress(b)
    return np.nan_to_num(out)


def piece_weights(kind: str, coefficient: float, counts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per-piece weights: ``sif`` / ``zipf`` = a / (a + p) (p from corpus counts / from vocabulary rank), ``none`` = 1."""
    w = np.ones(len(counts), dtype=np.float64)
    if kind == "sif":
        p = counts / max(1, int(counts[keep].sum()))
        w = coefficient / (coefficient + p)
    elif kind == "zipf":  # model2vec: the vocabulary is in frequency order, so rank r has p ~ 1 / (r + 2)
        rank = np.cumsum(keep) - 1
        inv = 1.0 / (rank + 2.0)
        p = inv / inv[keep].sum()
        w = coefficient / (coefficient + p)
    w[~keep] = 0.0
    return w


def build_table(raw: np.ndarray, keep: np.ndarray, weights: np.ndarray, pca_dims: int | None,
                seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """PCA (fit on the kept rows) to ``pca_dims`` (None: the encoder's width, centred and rotated but not
    reduced), then rows times ``weights``; the other rows zero.

    PCA is never skipped: its centring removes the direction every distilled vector shares (an encoder's
    outputs are anisotropic), without which the unit-length text vectors are nearly all alike (validation
    macro-F1 0.13 without PCA vs 0.68 with it at full width on the default dataset)."""
    from sklearn.decomposition import PCA

    x = raw[keep].astype(np.float64)
    info: dict[str, Any] = {"input_dims": int(raw.shape[1])}
    dims = min(pca_dims or x.shape[1], x.shape[1], x.shape[0])
    pca = PCA(n_components=dims, svd_solver="full", random_state=seed)
    x = pca.fit_transform(x)
    info["pca_explained_variance"] = round(float(np.sum(pca.explained_variance_ratio_)), 4)
    table = np.zeros((raw.shape[0], x.shape[1]), dtype=np.float32)
    table[keep] = x * weights[keep, None]
    info["dims"] = int(table.shape[1])
    return table, info


def train_static(cfg: "ClassifierConfig", data: "PreparedData", out_dir: Path, *, model_path: Path) -> dict[str, Any]:
    """Distil the static table from ``model_path``, fit the head, write table + tokenizer + head into ``out_dir``."""
    s = cfg.static
    model_path = Path(model_path)
    train, val = data.splits["train"], data.splits["validation"]
    with Timer() as t, StageProgress("mlnews train", summary=False) as progress:
        texts = vocabulary_texts(s.vocabulary, data)
        with temp_dir("mlnews-static") as tmp:
            progress.start("prune the vocabulary", total=1)
            encoder_dir, vocab_report = pruned_encoder(model_path, texts, tmp / "encoder")
            progress.finish("prune the vocabulary")
            tokenizer_json = (encoder_dir / TOKENIZER).read_text(encoding="utf-8")
            specials = special_ids(encoder_dir / TOKENIZER)
            tokenizer = load_tokenizer(encoder_dir / TOKENIZER, cfg.model.max_length)
            n = tokenizer.get_vocab_size(with_added_tokens=True)
            progress.start("distil pieces", total=n, unit="pieces")
            raw = distil(encoder_dir, batch_size=s.distill_batch_size,
                         progress=lambda k: progress.advance("distil pieces", k))
            progress.finish("distil pieces")
        keep = np.ones(n, dtype=bool)
        keep[[i for i in specials if i < n]] = False
        counts = piece_counts(tokenizer, train.inputs, n)
        weights = piece_weights(s.weighting, s.sif_coefficient, counts, keep)
        table, table_info = build_table(raw, keep, weights, s.pca_dims, cfg.train.seed)
        table = table.astype(s.dtype).astype(np.float32)  # features come from the table as it is stored
        meta = {"pieces": n, "dims": table.shape[1], "weighting": s.weighting, "sif_coefficient": s.sif_coefficient,
                "pca_dims": s.pca_dims, "vocabulary": s.vocabulary, "pooling": "mean", "source": str(cfg.model.name_or_path)}
        embedder = StaticEmbedder(table, tokenizer, meta=meta)
        for start in range(0, len(texts), 4096):  # the shipped word cache: the vocabulary texts' words
            embedder.pieces.ids(texts[start : start + 4096])
        words = embedder.pieces.export()
        progress.start("embed texts", total=len(train) + len(val))
        feats = {}
        for name, split in (("train", train), ("validation", val)):
            feats[name] = embedder.embed(split.inputs)
            progress.advance("embed texts", len(split))
        progress.finish("embed texts")
        progress.note(f"fitting the logistic-regression head on {len(train):,} rows x {embedder.dim} dims")
        head = fit_head(cfg, feats["train"], train.labels, data.labels)
    embedder.head = LinearHead.from_estimator(head, data.labels.names)  # what the backend runs (no sklearn)
    embedder.save(out_dir, dtype=s.dtype, tokenizer_json=tokenizer_json, words=words)
    save_head(head, out_dir / HEAD)
    info = head_info(head, feats["validation"], val.labels, t.seconds)
    unknown = int(sum(counts[i] for i in specials if i < n))
    info["static"] = {
        **vocab_report, "pieces": n, **table_info, "dtype": s.dtype, "weighting": s.weighting,
        "train_pieces_unknown": unknown, "cached_words": len(words[0]),
        "table_mb": round(table.shape[0] * table.shape[1] * np.dtype(s.dtype).itemsize / 1e6, 1),
    }
    return info
