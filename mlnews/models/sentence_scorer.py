"""A BERT-style encoder that scores every sentence of an article in one pass (extractive summariser).

BertSum-style input (Liu & Lapata, 2019, "Text Summarization with Pretrained Encoders"): the
article's sentences are packed into one window, each followed by a separator token and marked with
alternating token types ("interval segments"), so every sentence is encoded in its document. For
the ``lead`` target the title, which a summariser knows at inference, comes first::

    <s> query: TITLE </s> sentence 1 </s> sentence 2 </s> ...     (token types 0 .. 0 1 .. 1 0 .. 0)

A sentence's vector is the mean of its tokens' last hidden states (e5 is trained with mean
pooling); with ``extractive_position_buckets`` > 0 a learned vector for the sentence's position in
the article is added (windows after the first have no other clue where they are). One linear head
per target (``lead``, ``title``) turns it into a logit. The loss (``extractive_loss``) is a
per-sentence binary cross-entropy against greedy-ROUGE oracle labels, or a listwise cross-entropy
between the window's softmax and softmax(gain / temperature) of each sentence's own ROUGE gain
(``mlnews.train.extractive``).

:class:`SentenceScorer` is a ``BertPreTrainedModel``: ``save_pretrained`` writes safetensors and a
``config.json`` (with the targets), ``from_pretrained`` loads a trained folder or warm-starts the
encoder from an e5 / BERT folder (the heads start random). :func:`encode_windows` is the one input
builder shared by training and inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn
from transformers import BertModel, BertPreTrainedModel

IGNORE = -100.0  # label of a padded sentence slot


@dataclass
class Window:
    """One encoder input covering the article sentences ``sentences`` (indices into the article)."""

    input_ids: list[int]
    token_type_ids: list[int]
    sent_ids: list[int]  # per token: position of its sentence in ``sentences``, -1 for title/specials
    sentences: list[int] = field(default_factory=list)


def encode_windows(
    tokenizer,
    sentences: Sequence[str],
    *,
    title: str | None = None,
    prefix: str = "",
    max_length: int = 512,
    max_sentence_tokens: int = 64,
    max_title_tokens: int = 48,
    first_only: bool = False,
) -> list[Window]:
    """Pack ``sentences`` (in order) into windows of at most ``max_length`` tokens.

    Each window starts with ``cls + prefix (+ title) + sep``; each sentence (cut to
    ``max_sentence_tokens`` pieces) is followed by ``sep``. A new window starts when the next
    sentence does not fit, so every sentence is scored exactly once. ``first_only`` stops after
    the first window (training: the article's start, where summaries come from).
    """
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    head_text = prefix + (title or "")
    head = tokenizer(head_text, add_special_tokens=False)["input_ids"][: max_title_tokens] if head_text else []
    head = [cls_id] + head + [sep_id]
    pieces = tokenizer(list(sentences), add_special_tokens=False)["input_ids"] if sentences else []
    windows: list[Window] = []
    cur: Window | None = None
    for i, ids in enumerate(pieces):
        ids = ids[:max_sentence_tokens] + [sep_id]
        if cur is not None and len(cur.input_ids) + len(ids) > max_length and cur.sentences:
            windows.append(cur)
            if first_only:
                return windows
            cur = None
        if cur is None:
            cur = Window(list(head), [0] * len(head), [-1] * len(head), [])
        ids = ids[: max(1, max_length - len(cur.input_ids))]
        local = len(cur.sentences)
        cur.input_ids += ids
        cur.token_type_ids += [(local + 1) % 2] * len(ids)
        cur.sent_ids += [local] * len(ids)
        cur.sentences.append(i)
    if cur is not None and cur.sentences:
        windows.append(cur)
    return windows


def collate_windows(windows: Sequence[Window], pad_id: int, labels: Sequence[Sequence[float]] | None = None,
                    targets: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
    """Pad windows into a batch: input_ids, attention_mask, token_type_ids, sent_ids, sent_pos (each sentence
    slot's index in the article), (+ labels, target_ids)."""
    width = max(len(w.input_ids) for w in windows)
    n_sent = max(len(w.sentences) for w in windows)
    batch = {
        "input_ids": torch.full((len(windows), width), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(windows), width), dtype=torch.long),
        "token_type_ids": torch.zeros((len(windows), width), dtype=torch.long),
        "sent_ids": torch.full((len(windows), width), -1, dtype=torch.long),
        "sent_pos": torch.zeros((len(windows), n_sent), dtype=torch.long),
    }
    for b, w in enumerate(windows):
        n = len(w.input_ids)
        batch["input_ids"][b, :n] = torch.tensor(w.input_ids)
        batch["attention_mask"][b, :n] = 1
        batch["token_type_ids"][b, :n] = torch.tensor(w.token_type_ids)
        batch["sent_ids"][b, :n] = torch.tensor(w.sent_ids)
        batch["sent_pos"][b, : len(w.sentences)] = torch.tensor(w.sentences)
    if labels is not None:
        lab = torch.full((len(windows), n_sent), IGNORE)
        for b, row in enumerate(labels):
            lab[b, : len(row)] = torch.tensor(row, dtype=torch.float)
        batch["labels"] = lab
    if targets is not None:
        batch["target_ids"] = torch.tensor(list(targets), dtype=torch.long)
    return batch


class SentenceScorer(BertPreTrainedModel):
    """Encoder + one linear head per target over mean-pooled sentence vectors."""

    def __init__(self, config):
        super().__init__(config)
        targets = getattr(config, "extractive_targets", None) or ["lead", "title"]
        config.extractive_targets = list(targets)
        config.extractive_loss = getattr(config, "extractive_loss", "bce")
        config.extractive_temperature = getattr(config, "extractive_temperature", None)  # set by the trainer
        config.extractive_position_buckets = int(getattr(config, "extractive_position_buckets", 0))
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        buckets = config.extractive_position_buckets
        self.positions = nn.Embedding(buckets, config.hidden_size) if buckets else None
        self.heads = nn.Linear(config.hidden_size, len(targets))
        self.post_init()
        if self.positions is not None:
            nn.init.zeros_(self.positions.weight)  # starts as the plain scorer; learns the prior

    def sentence_logits(self, input_ids, attention_mask, token_type_ids, sent_ids, target_ids,
                        sent_pos=None) -> torch.Tensor:
        """Logits ``[batch, max sentences]`` (padded slots are -inf) for each window's target head."""
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        n_sent = int(sent_ids.max().item()) + 1 if sent_ids.numel() else 0
        n_sent = max(n_sent, 1)
        onehot = (sent_ids.unsqueeze(1) == torch.arange(n_sent, device=sent_ids.device).view(1, -1, 1)).to(hidden.dtype)
        counts = onehot.sum(-1, keepdim=True)
        pooled = onehot @ hidden / counts.clamp(min=1.0)  # [B, S, H]
        if self.positions is not None and sent_pos is not None:
            pos = sent_pos[:, :n_sent].clamp(max=self.positions.num_embeddings - 1)
            pooled = pooled + self.positions(pos)
        logits_all = self.heads(self.dropout(pooled))  # [B, S, n_targets]
        logits = logits_all.gather(-1, target_ids.view(-1, 1, 1).expand(-1, n_sent, 1)).squeeze(-1)
        return logits.masked_fill(counts.squeeze(-1) == 0, float("-inf"))

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, sent_ids=None, target_ids=None,
                labels=None, sent_pos=None, **kwargs):
        if target_ids is None:
            target_ids = torch.zeros(input_ids.shape[0], dtype=torch.long, device=input_ids.device)
        logits = self.sentence_logits(input_ids, attention_mask, token_type_ids, sent_ids, target_ids, sent_pos)
        out = {"logits": logits}
        if labels is not None:
            labels = labels[:, : logits.shape[1]]
            if labels.shape[1] < logits.shape[1]:
                pad = torch.full((labels.shape[0], logits.shape[1] - labels.shape[1]), IGNORE, device=labels.device)
                labels = torch.cat([labels, pad], 1)
            mask = labels != IGNORE
            if self.config.extractive_loss == "listwise":
                out["loss"] = listwise_loss(logits, labels, mask, self.config.extractive_temperature)
            else:
                out["loss"] = nn.functional.binary_cross_entropy_with_logits(logits[mask], labels[mask])
        return out


def listwise_loss(logits: torch.Tensor, gains: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean over windows of the cross-entropy between softmax(gains / T) and softmax(logits), both over the
    window's labelled sentences (``mask``); a window with no labelled sentence adds nothing."""
    neg = torch.finfo(logits.dtype).min
    target = torch.softmax((gains / temperature).masked_fill(~mask, neg), dim=-1)
    logp = torch.log_softmax(logits.masked_fill(~mask, neg), dim=-1)
    per_window = -(target * logp).masked_fill(~mask, 0.0).sum(-1)
    rows = mask.any(-1)
    return per_window[rows].mean() if rows.any() else logits.masked_fill(~mask, 0.0).sum() * 0.0
