"""Knowledge distillation of a fine-tuned transformer classifier into a smaller student (``distill:``).

DistilBERT's recipe, sized for a CPU: the student *is* the teacher with fewer encoder layers (evenly
spaced, the top one kept, so the classification head still reads the representation it was trained
on), optionally a shorter ``model.max_length``, trained on

* the labelled training rows: ``alpha`` x class-weighted cross-entropy on the gold label
  + ``(1 - alpha)`` x the soft-label loss;
* the build's unlabelled article titles (``distill.unlabelled``; the summarisation train split, which
  shares its groups with the classification train split): the soft-label loss only.
* with ``distill.unlabelled_sentences: N``, up to N body sentences of those same training articles, each
  alone, as headline-sized inputs (TinyBERT's lesson: a student needs far more inputs than the labelled
  set to copy its teacher; a sentence of a Ukrainian article is Ukrainian news text the labelled rows,
  88 % of them tsn war coverage, do not cover): the soft-label loss only.
* with ``distill.unlabelled_files``, the rows of news-text files outside the build (e.g. the headlines a
  source's ``cap`` left out of it), less every row equal or near a validation or test row: the soft-label
  loss only.

Those texts are chosen and counted by :mod:`mlnews.train.distill_texts`.

The soft-label loss is ``T^2 * KL(softmax(teacher / T) || softmax(student / T))`` (Hinton et al.), with
the teacher's logits computed once before training, on the teacher's own input length. With
``distill.hidden_weight`` the same teacher pass also keeps the states of every teacher layer the student
copied, and every row adds ``hidden_weight x`` the mean over the student's layers of
``2 - 2 cos(student layer k, teacher layer kept[k])`` (the distance between the unit-length states): the
student copies how its teacher builds the sentence representation, not only the final distribution.
``distill.hidden_tokens: first`` compares the first-token ([CLS]) states (Patient KD, Sun et al. 2019,
"PKD-skip"); ``all`` compares every token position the two inputs share (TinyBERT's hidden-state loss,
Jiao et al. 2020, with a cosine instead of a mean squared error, since the widths are equal). The states
are kept in one array beside the training set (a row index column points into it), not as dataset
columns, so a batch costs a gather, not the collation of nested lists. After training, the student's
top labels on the validation split are scored against its teacher's (:func:`fidelity`, per language: the
``validation_fidelity`` of ``metrics.json`` and the card). Everything else
(checkpoints, ``--resume``, the time limit, best checkpoint by validation macro-F1, calibration, the
model folder) is the transformer trainer's; a student folder is an ordinary ``kind: transformer``
folder, so ``mlnews export --onnx --int8`` and every backend take it as is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from mlnews.batches import by_length
from mlnews.errors import ConfigError, MlnewsError
from mlnews.modelfolder import ModelFolder
from mlnews.progress import StageProgress

if TYPE_CHECKING:
    from mlnews.train.config import ClassifierConfig
    from mlnews.train.inputs import PreparedData

log = logging.getLogger(__name__)

UNLABELLED = -100  # the label id of a row with soft labels only (ignored by the hard-label loss)


def kept_layers(n_teacher: int, layers: int | Sequence[int]) -> list[int]:
    """The teacher layers a student keeps. A number: that many, evenly spaced with the top one (4 of 12 ->
    [2, 5, 8, 11]). A list: those layer indices (0 = the lowest), e.g. ``[0, 1, 2, 3]``, the bottom four
    (a student that keeps a contiguous stack; "Poor Man's BERT", Sajjad et al. 2020)."""
    if isinstance(layers, int):
        if layers > n_teacher:
            raise ConfigError(f"distill.layers: {layers} > the teacher's {n_teacher} encoder layers")
        return sorted({round((i + 1) * n_teacher / layers) - 1 for i in range(layers)})
    kept = list(layers)
    if not kept or kept != sorted(set(kept)) or not all(0 <= i < n_teacher for i in kept):
        raise ConfigError(f"distill.layers: {kept} is not a non-empty increasing list of the teacher's layer "
                          f"indices 0-{n_teacher - 1}")
    return kept


def open_teacher(teacher: str | Path, labels: Sequence[str] | None = None) -> ModelFolder:
    """The teacher folder, checked: a finished ``kind: transformer`` classifier with the dataset's labels."""
    folder = ModelFolder.open(teacher, task="classification")
    kind = folder.manifest.kind
    if kind != "transformer":
        raise ConfigError(f"distill.teacher: {teacher} is a {kind!r} model folder; the teacher must be a fine-tuned "
                          "transformer classifier (its ONNX export or a TF-IDF model cannot seed a student)")
    if labels is not None and list(folder.manifest.labels or []) != list(labels):
        raise ConfigError(f"distill.teacher: {teacher} was trained on the labels {folder.manifest.labels}, the dataset "
                          f"has {list(labels)}; distil on the teacher's own taxonomy")
    return folder


def make_student(teacher_dir: Path, wanted: int | Sequence[int], **config_overrides: Any) -> tuple[Any, list[int]]:
    """The teacher's model with only ``kept_layers(.., wanted)`` of its encoder layers (``wanted``: the value of
    ``distill.layers``, a count or a list of indices); returns ``(model, kept)``."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(teacher_dir, use_safetensors=True, **config_overrides)
    layers = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    if layers is None:
        raise ConfigError(f"distill.teacher: {teacher_dir}: this architecture has no encoder.layer list to cut")
    kept = kept_layers(len(layers), wanted)
    model.base_model.encoder.layer = torch.nn.ModuleList([layers[i] for i in kept])
    model.config.num_hidden_layers = len(kept)
    return model, kept


def student_source(cfg: "ClassifierConfig", data: "PreparedData", teacher_dir: Path, extra_inputs: list[str],
                   scratch: Path) -> tuple[Path, dict[str, Any] | None]:
    """The folder the student is cut from: the teacher's, or with ``distill.prune_vocab`` a copy in ``scratch``
    whose vocabulary keeps only the pieces of the training-side texts
    (:func:`mlnews.train.distill_texts.training_side_texts`) and single basic characters
    (:func:`mlnews.models.prune.prune_vocab`, which checks that every such text splits as before and that the
    hidden states are unchanged). Returns ``(folder, report or None)``. Pruning changes nothing the student
    computes on those texts; a new text with a piece that was dropped splits into smaller known pieces."""
    if not cfg.distill.prune_vocab:
        return teacher_dir, None
    import torch

    from mlnews.train.distill_texts import training_side_texts
    from mlnews.train.static import pruned_encoder, tokenizer_type

    kind = tokenizer_type(teacher_dir)
    if kind != "Unigram":
        raise ConfigError(f"distill.prune_vocab: {teacher_dir}'s tokenizer is {kind}, not Unigram (SentencePiece, "
                          "as e5's); only a Unigram vocabulary can be pruned")
    log.info("distill.prune_vocab: pruning the teacher's vocabulary to the training texts")
    with torch.random.fork_rng():  # its check loads the encoder (e5 has no pooler: initialised at random), and the
        # student's dropout must draw the same numbers as without pruning
        folder, report = pruned_encoder(teacher_dir, training_side_texts(cfg, data, extra_inputs), scratch,
                                        check_sample=8)
    report.pop("pruned")
    log.info("distill.prune_vocab: %d of %d pieces kept", report["pieces_after"], report["pieces_before"])
    return folder, report


@dataclass
class TeacherStates:
    """The teacher's hidden states of the layers the student copied, one row per training input.

    ``first``: ``states`` is ``[n, layers, hidden]`` float32, the first-token states, and ``ids`` is None.
    ``all``: ``states`` is ``[n, layers, length, hidden]`` float16 (``length``: the student's
    ``model.max_length``) and ``ids`` ``[n, length]`` the teacher's token ids at those positions (-1 past its
    input), so that a position is compared only where the student reads the same token (a student input
    cut shorter than its teacher's ends in ``</s>`` where the teacher still reads a word).
    """

    states: np.ndarray
    ids: np.ndarray | None = None

    def batch(self, rows: Any, input_ids: Any, attention_mask: Any) -> tuple[Any, Any]:
        """The teacher states of ``rows`` (a tensor of row indices) as a tensor, and the mask of the positions
        to compare (``[rows, positions]``; None for first-token states)."""
        import torch

        index = rows.view(-1).cpu().numpy()
        states = torch.from_numpy(self.states[index].astype(np.float32))
        if self.ids is None:
            return states, None
        width = input_ids.shape[1]
        states = states[:, :, :width]
        ids = torch.from_numpy(self.ids[index, :width].astype(np.int64)).to(input_ids.device)
        mask = attention_mask.bool() & (input_ids == ids)
        return states, mask


def load_classifier(folder: Path) -> tuple[Any, Any]:
    """A transformer classifier folder's ``(model, tokenizer)``, the model in evaluation mode (safetensors only)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def model_logits(model: Any, tokenizer: Any, texts: Sequence[str], *, max_length: int, batch_size: int = 64,
                 layers: Sequence[int] = (), token_length: int | None = None, progress: str | None = None
                 ) -> tuple[np.ndarray, TeacherStates | None]:
    """A loaded classifier's logits ``[n, n_labels]`` for composed, prefixed texts, in the order of ``texts``
    (length-sorted batches, written back by index), and, for ``layers`` (encoder layer indices), their
    :class:`TeacherStates` (None without ``layers``): first-token states, or with ``token_length`` the states of
    every position below it. ``progress``: the name of a progress bar on stderr (none without it)."""
    import torch

    n, hidden = len(texts), model.config.hidden_size
    out = np.zeros((n, model.config.num_labels), dtype=np.float32)
    states: TeacherStates | None = None
    if layers and token_length:
        states = TeacherStates(np.zeros((n, len(layers), token_length, hidden), dtype=np.float16),
                               np.full((n, token_length), -1, dtype=np.int32))
    elif layers:
        states = TeacherStates(np.zeros((n, len(layers), hidden), dtype=np.float32))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    stage = progress or "forward"
    try:
        with torch.inference_mode(), StageProgress("mlnews train", summary=False, enabled=bool(progress)) as bar:
            bar.start(stage, total=n)
            for idx in by_length(texts, batch_size):
                enc = tokenizer([texts[i] for i in idx], truncation=True, max_length=max_length, padding=True,
                                return_tensors="pt").to(device)
                result = model(**enc, output_hidden_states=states is not None)
                out[idx] = result.logits.float().cpu().numpy()
                if states is not None:
                    _keep_states(states, idx, result.hidden_states, layers, enc, token_length)
                bar.advance(stage, len(idx))
            bar.finish(stage)
    finally:
        model.train(was_training)
    return out, states


def _keep_states(states: TeacherStates, idx: Any, hidden_states: Sequence[Any], layers: Sequence[int], enc: Any,
                 token_length: int | None) -> None:
    """Write one batch's states of ``layers`` into ``states`` (``hidden_states[0]`` is the embedding output,
    ``[i + 1]`` layer i's)."""
    import torch

    kept = torch.stack([hidden_states[i + 1] for i in layers], 1).cpu()  # [rows, layers, len, hidden]
    if states.ids is None:
        states.states[idx] = kept[:, :, 0].float().numpy()
        return
    width = min(token_length or 0, kept.shape[2])
    states.states[idx, :, :width] = kept[:, :, :width].float().numpy().astype(np.float16)
    ids = enc["input_ids"][:, :width].masked_fill(enc["attention_mask"][:, :width] == 0, -1)
    states.ids[idx, :width] = ids.cpu().numpy().astype(np.int32)


def hidden_state_loss(student_states: Sequence[Any], teacher: Any, mask: Any = None) -> Any:
    """Per-row mean over layers of ``2 - 2 cos`` between the student's layer states (``student_states``: the
    model's ``hidden_states``, embedding output first) and the teacher's.

    ``teacher`` ``[rows, layers, hidden]`` (``mask`` None): student layer k's first-token state against
    ``teacher[:, k]``. ``teacher`` ``[rows, layers, positions, hidden]`` with ``mask`` ``[rows, positions]``:
    every masked-in position, averaged per row (a row with no such position adds 0).
    """
    import torch
    import torch.nn.functional as F

    if mask is None:
        student = torch.stack([h[:, 0] for h in student_states[1:]], 1)
    else:
        student = torch.stack(list(student_states[1:]), 1)[:, :, : teacher.shape[2]]
    if student.shape != teacher.shape:
        raise MlnewsError(f"distill.hidden_weight: student states {tuple(student.shape)} do not match the "
                          f"teacher's {tuple(teacher.shape)}")
    distance = 2 - 2 * F.cosine_similarity(student, teacher.to(student.dtype), dim=-1)
    if mask is None:
        return distance.mean(-1)
    keep = mask.to(distance.dtype).unsqueeze(1)  # [rows, 1, positions]
    per_layer = (distance * keep).sum(-1) / keep.sum(-1).clamp(min=1.0)
    return per_layer.mean(-1)


def fidelity(teacher: Sequence[int], student: Sequence[int], langs: Sequence[str], n_labels: int
             ) -> dict[str, dict[str, float]]:
    """How faithfully a student copies its teacher on the same rows (label ids): per language and ``all``, the
    rows, the agreement (share of equal top labels) and the fidelity macro-F1 (the student's macro-F1 with the
    teacher's top labels as the reference, over the labels the teacher predicts). A validation signal that needs
    no gold label: it is as large in a language as the validation inputs are, not its topical gold rows."""
    from mlnews.evaluate.metrics import macro_f1_codes

    t, p, g = np.asarray(teacher, dtype=int), np.asarray(student, dtype=int), np.asarray(langs)
    if not (len(t) == len(p) == len(g)):
        raise ValueError(f"fidelity: {len(t)} teacher labels, {len(p)} student labels, {len(g)} languages")
    out: dict[str, dict[str, float]] = {}
    for lang in ["all", *sorted(set(g.tolist()))]:
        keep = np.ones(len(g), dtype=bool) if lang == "all" else g == lang
        if keep.any():
            out[lang] = {"n": int(keep.sum()), "agreement": round(float((t[keep] == p[keep]).mean()), 4),
                         "macro_f1": round(macro_f1_codes(t[keep], p[keep], n_labels), 4)}
    return out


def soft_label_loss(student: Any, teacher: Any, temperature: float) -> Any:
    """Per-row ``T^2 * KL(softmax(teacher / T) || softmax(student / T))``."""
    import torch.nn.functional as F

    t = temperature
    log_p = F.log_softmax(student / t, dim=-1)
    q = F.softmax(teacher.to(student.dtype) / t, dim=-1)
    return (t * t) * F.kl_div(log_p, q, reduction="none").sum(-1)
