"""A frozen sentence encoder: transformer -> attention-masked mean pooling -> L2 normalisation.

This is how multilingual-e5 is meant to be used (``query: `` prefix, mean of the last hidden state,
unit length), and what ``model.kind: embedding`` classifiers put a scikit-learn head on::

    enc = SentenceEncoder.load("runs/e5-embed")          # any folder AutoModel loads (safetensors only)
    enc.encode(["query: Курс рубля упал"])              # float32 [1, 384], rows of unit length

:class:`MeanPooler` is the same computation as a torch module (encoder + pooling, optionally a linear
head producing logits), so the ONNX export traces exactly what the torch backend runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mlnews.batches import by_length
from mlnews.errors import MlnewsError
from mlnews.modelfolder import ModelFolder


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mean of ``hidden [b, t, d]`` over the positions where ``mask [b, t]`` is 1, then unit length."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * m).sum(dim=1)
    pooled = summed / m.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)


def pooler_module(encoder: Any, input_names: Sequence[str], weight: np.ndarray | None = None,
                  bias: np.ndarray | None = None) -> Any:
    """A torch module ``(*tensors in input_names order) -> embeddings``, or logits when a head is given.

    ``weight [k, d]`` and ``bias [k]``: a linear head (a logistic regression's coefficients) applied to
    the unit-length embeddings; the output is then the head's logits.
    """
    import torch

    names = list(input_names)

    class MeanPooler(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = None
            if weight is not None:
                self.head = torch.nn.Linear(weight.shape[1], weight.shape[0])
                with torch.no_grad():
                    self.head.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
                    self.head.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))

        def forward(self, *tensors):
            feed = dict(zip(names, tensors))
            hidden = self.encoder(**feed).last_hidden_state
            pooled = mean_pool(hidden, feed["attention_mask"])
            return pooled if self.head is None else self.head(pooled)

    return MeanPooler().eval()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def load_encoder(path: str | os.PathLike, **kwargs: Any) -> Any:
    """``AutoModel`` of ``path`` in eval mode: safetensors only, without a pooler where the architecture has
    one (a classifier folder gives its base encoder); a folder it cannot load is a one-line error.
    ``kwargs`` go to ``from_pretrained`` (e.g. ``attn_implementation="eager"`` for the ONNX export)."""
    from transformers import AutoModel

    try:
        try:
            model = AutoModel.from_pretrained(path, use_safetensors=True, add_pooling_layer=False, **kwargs)
        except TypeError:  # an architecture without a pooler argument
            model = AutoModel.from_pretrained(path, use_safetensors=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise MlnewsError(f"{path}: cannot load the encoder ({_first_line(exc)})") from None
    return model.eval()


class SentenceEncoder:
    """Encode texts (already prefixed) into unit-length mean-pooled embeddings, on CPU with torch.

    Texts are sorted by length and batched (``batch_size``) with dynamic padding, then returned in the
    caller's order. ``progress(n_done)`` is called after each batch (for progress bars with totals).
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_length: int, batch_size: int = 64) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.dim = int(model.config.hidden_size)

    @classmethod
    def load(cls, path: str | os.PathLike, *, max_length: int, batch_size: int = 64,
             num_threads: int | None = None) -> "SentenceEncoder":
        """Load the encoder in ``path`` (a transformers folder with safetensors weights)."""
        import torch
        from transformers import AutoTokenizer

        if num_threads is not None:
            torch.set_num_threads(num_threads)
        path = Path(path)
        if path.is_dir():
            ModelFolder(path).safetensors_weights()  # pickled weights are refused, never loaded
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as exc:
            raise MlnewsError(f"{path}: cannot load the encoder's tokenizer ({_first_line(exc)})") from None
        return cls(load_encoder(path), tokenizer, max_length=max_length, batch_size=batch_size)

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """``float32 [len(texts), dim]`` unit-length embeddings."""
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for idx in by_length(texts, self.batch_size):
                enc = self.tokenizer([texts[i] for i in idx], truncation=True, max_length=self.max_length,
                                     padding=True, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                out[idx] = mean_pool(hidden, enc["attention_mask"]).float().numpy()
                if progress is not None:
                    progress(len(idx))
        return out

    def save_pretrained(self, out_dir: str | os.PathLike) -> None:
        """Write the encoder (safetensors + config.json) and its tokenizer into ``out_dir``."""
        self.tokenizer.model_max_length = self.max_length  # the saved tokenizer truncates as at training time
        self.model.save_pretrained(out_dir, safe_serialization=True)
        self.tokenizer.save_pretrained(out_dir)
