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

import numpy as np
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
    """Encoder + one linear head per target over mean-pooled sentence vectors; with
    ``extractive_members`` = K > 1, an ensemble of K such scorers (member 0 is ``bert``/``positions``/
    ``heads``, the others ``extra_*``), trained together (each on its own loss) and combined at inference by
    :func:`combine_members`."""

    def __init__(self, config):
        super().__init__(config)
        targets = getattr(config, "extractive_targets", None) or ["lead", "title"]
        config.extractive_targets = list(targets)
        config.extractive_loss = getattr(config, "extractive_loss", "bce")
        config.extractive_temperature = getattr(config, "extractive_temperature", None)  # set by the trainer
        config.extractive_position_buckets = int(getattr(config, "extractive_position_buckets", 0))
        config.extractive_members = int(getattr(config, "extractive_members", 1) or 1)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        buckets = config.extractive_position_buckets
        self.positions = nn.Embedding(buckets, config.hidden_size) if buckets else None
        self.heads = nn.Linear(config.hidden_size, len(targets))
        extra = config.extractive_members - 1
        self.extra_encoders = nn.ModuleList([BertModel(config, add_pooling_layer=False) for _ in range(extra)])
        self.extra_positions = nn.ModuleList([nn.Embedding(buckets, config.hidden_size) for _ in range(extra)]) \
            if buckets else None
        self.extra_heads = nn.ModuleList([nn.Linear(config.hidden_size, len(targets)) for _ in range(extra)])
        self.post_init()
        for emb in [self.positions, *(self.extra_positions or [])]:
            if emb is not None:
                nn.init.zeros_(emb.weight)  # starts as the plain scorer; learns the prior

    @property
    def members(self) -> int:
        return self.config.extractive_members

    def encoders(self) -> list[BertModel]:
        """The members' encoders, member 0 first."""
        return [self.bert, *self.extra_encoders]

    def copy_encoder_to_members(self) -> None:
        """Start every extra member's encoder from member 0's (the warm-started one); heads stay random."""
        state = self.bert.state_dict()
        for enc in self.extra_encoders:
            enc.load_state_dict(state)

    def member_logits(self, input_ids, attention_mask, token_type_ids, sent_ids, target_ids,
                      sent_pos=None) -> torch.Tensor:
        """Each member's logits, ``[members, batch, max sentences]`` (padded slots are -inf)."""
        n_sent = int(sent_ids.max().item()) + 1 if sent_ids.numel() else 0
        n_sent = max(n_sent, 1)
        onehot = None
        positions = [self.positions, *(self.extra_positions or [None] * len(self.extra_encoders))]
        heads = [self.heads, *self.extra_heads]
        out = []
        for bert, pos_emb, head in zip(self.encoders(), positions, heads):
            hidden = bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state
            if onehot is None:
                onehot = (sent_ids.unsqueeze(1) == torch.arange(n_sent, device=sent_ids.device).view(1, -1, 1)
                          ).to(hidden.dtype)
                counts = onehot.sum(-1, keepdim=True)
            pooled = onehot @ hidden / counts.clamp(min=1.0)  # [B, S, H]
            if pos_emb is not None and sent_pos is not None:
                pooled = pooled + pos_emb(sent_pos[:, :n_sent].clamp(max=pos_emb.num_embeddings - 1))
            logits_all = head(self.dropout(pooled))  # [B, S, n_targets]
            logits = logits_all.gather(-1, target_ids.view(-1, 1, 1).expand(-1, n_sent, 1)).squeeze(-1)
            out.append(logits.masked_fill(counts.squeeze(-1) == 0, float("-inf")))
        return torch.stack(out)

    def sentence_logits(self, input_ids, attention_mask, token_type_ids, sent_ids, target_ids,
                        sent_pos=None) -> torch.Tensor:
        """Logits ``[batch, max sentences]`` (padded slots are -inf) for each window's target head; an
        ensemble gives the mean of its members' logits (an article is scored by :func:`combine_members`)."""
        return self.member_logits(input_ids, attention_mask, token_type_ids, sent_ids, target_ids, sent_pos).mean(0)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, sent_ids=None, target_ids=None,
                labels=None, sent_pos=None, **kwargs):
        if target_ids is None:
            target_ids = torch.zeros(input_ids.shape[0], dtype=torch.long, device=input_ids.device)
        members = self.member_logits(input_ids, attention_mask, token_type_ids, sent_ids, target_ids, sent_pos)
        out = {"logits": members.mean(0)}
        if labels is not None:
            n = members.shape[-1]
            labels = labels[:, :n]
            if labels.shape[1] < n:
                pad = torch.full((labels.shape[0], n - labels.shape[1]), IGNORE, device=labels.device)
                labels = torch.cat([labels, pad], 1)
            mask = labels != IGNORE
            # the sum: every member gets the gradient of its own loss, as if trained alone
            if self.config.extractive_loss == "listwise":
                out["loss"] = sum(listwise_loss(m, labels, mask, self.config.extractive_temperature) for m in members)
            else:
                out["loss"] = sum(nn.functional.binary_cross_entropy_with_logits(m[mask], labels[mask])
                                  for m in members)
        return out


def combine_members(scores: np.ndarray) -> np.ndarray:
    """One score per sentence of an article from ``[members, sentences]`` member logits: a single member's
    logits as they are; an ensemble's mean of each member's logits standardised over the article (members'
    logit scales differ; the listwise loss fixes none). Chosen on validation (docs/summariser.md)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[0] == 1:
        return scores[0]
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    z = np.divide(scores - mean, std, out=np.zeros_like(scores), where=std > 0)
    return z.mean(axis=0)


def listwise_loss(logits: torch.Tensor, gains: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean over windows of the cross-entropy between softmax(gains / T) and softmax(logits), both over the
    window's labelled sentences (``mask``); a window with no labelled sentence adds nothing."""
    neg = torch.finfo(logits.dtype).min
    target = torch.softmax((gains / temperature).masked_fill(~mask, neg), dim=-1)
    logp = torch.log_softmax(logits.masked_fill(~mask, neg), dim=-1)
    per_window = -(target * logp).masked_fill(~mask, 0.0).sum(-1)
    rows = mask.any(-1)
    return per_window[rows].mean() if rows.any() else logits.masked_fill(~mask, 0.0).sum() * 0.0
