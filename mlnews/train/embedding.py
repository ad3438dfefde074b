"""``model.kind: embedding``: the packaged encoder, frozen and mean-pooled, plus a logistic-regression head.

setfit's observation without its contrastive stage: a good multilingual sentence embedding (e5, used as
its authors intend: ``query: `` prefix, mean pooling, unit length) with a linear head is a strong topic
classifier that trains in seconds and works from a handful of examples per label, where TF-IDF has too
few n-grams to generalise and a fine-tune has too few steps. Nothing of the encoder is trained, so the
cost is one forward pass per training row.

The model folder holds the encoder (``model.safetensors`` + ``config.json`` + tokenizer, as
``AutoModel`` loads it) and the head (``head.skops``). :class:`mlnews.infer.classifier.EmbeddingBackend`
runs it with torch; ``mlnews export --onnx --int8`` traces encoder + pooling + head into one graph.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlnews.modelfolder import HEAD
from mlnews.progress import StageProgress
from mlnews.train.head import Timer, fit_head, head_info, save_head

if TYPE_CHECKING:
    from mlnews.train.config import ClassifierConfig
    from mlnews.train.inputs import PreparedData

log = logging.getLogger(__name__)

ENCODE_BATCH = 64


def train_embedding(cfg: "ClassifierConfig", data: "PreparedData", out_dir: Path, *, model_path: Path) -> dict[str, Any]:
    """Embed the train and validation inputs, fit the head, save encoder + head into ``out_dir``."""
    import torch

    from mlnews.models.encoder import SentenceEncoder

    torch.manual_seed(cfg.train.seed)
    encoder = SentenceEncoder.load(model_path, max_length=cfg.model.max_length, batch_size=ENCODE_BATCH)
    train, val = data.splits["train"], data.splits["validation"]
    with Timer() as t, StageProgress("mlnews train", summary=False) as progress:
        feats = {}
        for name, split in (("train", train), ("validation", val)):
            stage = f"embed {name}"
            progress.start(stage, total=len(split.inputs))
            feats[name] = encoder.encode(split.inputs, progress=lambda n, s=stage: progress.advance(s, n))
            progress.finish(stage)
        progress.note(f"fitting the logistic-regression head on {len(train.inputs):,} rows x {encoder.dim} dims")
        head = fit_head(cfg, feats["train"], train.labels, data.labels)
    # label2id/id2label in config.json, as in every transformers classifier folder (the head's order is mapped
    # onto mlnews.json's labels at load time; these are the same names in the same order)
    encoder.model.config.id2label = dict(data.labels.id2label)
    encoder.model.config.label2id = dict(data.labels.label2id)
    encoder.save_pretrained(out_dir)
    save_head(head, out_dir / HEAD)
    info = head_info(head, feats["validation"], val.labels, t.seconds)
    info["encoder"] = {"dim": encoder.dim, "layers": int(encoder.model.config.num_hidden_layers),
                       "parameters": sum(p.numel() for p in encoder.model.parameters())}
    return info
