"""Summarise one article: extractive (lead-k, TextRank) out of the box, or a trained seq2seq folder.

    from mlnews import Summariser
    s = Summariser.load("textrank")                      # or "lead", "lead-1", "textrank-2", MODEL_DIR
    summary = s.summarise(article_or_text, max_words=60)
    print(summary.text, summary.method, summary.lang, summary.sentences, summary.seconds)

An :class:`~mlnews.types.Article` is summarised from its body paragraphs only (never the sidebar
headlines; the lead, then the title, only when the body is empty); a plain string is the body itself.
Long inputs are capped at :data:`MAX_SENTENCES` sentences (a note in the result says so), which
keeps a 1 MB article fast. Empty input is an :class:`~mlnews.errors.InputError`; a language other
than Russian or Ukrainian is summarised anyway, with a note.
"""

from __future__ import annotations

import abc
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from mlnews.errors import InputError
from mlnews.modelfolder import ModelFolder
from mlnews.ingest.sentences import count_words, is_dateline, split_sentences, truncate_words
from mlnews.types import Article

MAX_SENTENCES = 400  # sentences of one article considered by any method
DEFAULT_SENTENCES = 3  # k for lead-k / TextRank when a method name has no "-N"
_NAME = re.compile(r"^(lead|textrank)(?:-(\d+))?$")


@dataclass
class Summary:
    """A summary and how it was made."""

    text: str
    method: str  # "lead-3", "textrank-3", "textrank-3+e5-small", "seq2seq:<model dir name>"
    lang: str  # ru | uk | en | other | unknown
    sentences: list[str]  # the summary's sentences (extractive: verbatim from the article)
    seconds: float
    indices: list[int] | None = None  # extractive: positions in the article's sentence list
    notes: list[str] = field(default_factory=list)  # e.g. input capped, language not ru/uk
    scores: list[float] | None = None  # trained extractive model: one score per article sentence

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.text,
            "method": self.method,
            "language": self.lang,
            "seconds": round(self.seconds, 4),
            "sentences": list(self.sentences),
            "indices": self.indices,
            "notes": list(self.notes),
            **({"scores": list(self.scores)} if self.scores is not None else {}),
        }


def article_text(item: str | Article) -> str:
    """The text a summary is made from: an Article's body (else its lead, else its title), or the string.

    A one-line plain-text file is read by ingest as a title without body: it is summarised as is.
    """
    if isinstance(item, Article):
        body = "\n".join(p for p in item.paragraphs if p and p.strip())
        for candidate in (body, item.lead or "", item.title or ""):
            if candidate.strip():
                return candidate
        return ""
    if not isinstance(item, str):
        raise InputError(f"expected an Article or a string to summarise, got {type(item).__name__}")
    return item


def source_notes(item: str | Article) -> list[str]:
    """Notes on where the summary of an Article with no body comes from (e.g. a page that is all
    sidebar: its title only). Empty for strings and for articles with body paragraphs."""
    if not isinstance(item, Article) or any(p and p.strip() for p in item.paragraphs):
        return []
    side = f" and {len(item.headlines)} sidebar headline{'s' * (len(item.headlines) != 1)}" if item.headlines else ""
    if (item.lead or "").strip():
        return [f"the article has no body paragraphs{side}: summarised from its lead"]
    if (item.title or "").strip():
        return [f"the article has only a title{side}, no lead or body: the summary is the title"]
    return []


def detect_lang(text: str) -> str:
    """ru / uk / en / other via :func:`mlnews.ingest.lang.detect_lang` (first 2,000 characters)."""
    from mlnews.ingest.lang import detect_lang as _detect

    return _detect(text[:2000])


def _lang_notes(lang: str) -> list[str]:
    if lang in ("ru", "uk"):
        return []
    return [f"language detected as {lang!r}: mlnews summarisers are built and evaluated for Russian and Ukrainian"]


class Summariser(abc.ABC):
    """Base class; use :meth:`load`."""

    method: str = "?"

    @staticmethod
    def load(name_or_dir: str | Path = "lead", *, similarity: str = "tfidf", sentences: int | None = None,
             device: str | None = None, target: str | None = None) -> "Summariser":
        """``lead``/``lead-N``, ``textrank``/``textrank-N``, or a summarisation model folder.

        ``similarity`` (TextRank only): ``tfidf`` or an encoder name/folder for
        :func:`mlnews.models.resolve` (e.g. ``e5-small``). ``sentences`` overrides N.
        ``target`` (a trained extractive folder only): ``lead`` or ``title``; default: the model's.
        """
        name = str(name_or_dir)
        m = _NAME.match(name)
        if m and target is not None:
            raise InputError(f"target {target!r}: only a trained extractive model folder has targets; {name} has none")
        if m:
            k = sentences if sentences is not None else int(m.group(2) or DEFAULT_SENTENCES)
            if k < 1:
                raise InputError(f"{name}: the number of sentences must be >= 1")
            return ExtractiveSummariser(m.group(1), k, similarity=similarity)
        path = Path(name)
        if path.is_dir():
            return Summariser.from_folder(ModelFolder.open(path, task="summarisation"), device=device, target=target)
        raise InputError(
            f"{name}: not a summariser; expected lead, lead-N, textrank, textrank-N or a model folder "
            "written by `mlnews train` (task: summarisation)"
        )

    @staticmethod
    def from_folder(folder: ModelFolder, *, device: str | None = None, target: str | None = None) -> "Summariser":
        """The summariser of a model folder (its manifest may still be in memory: a trainer evaluating
        its own output before it writes ``mlnews.json`` last)."""
        if folder.manifest.kind == "seq2seq":
            if target is not None and target != folder.manifest.extra.get("target"):
                raise InputError(f"{folder.path}: target {target!r}: this seq2seq model was trained for "
                                 f"{folder.manifest.extra.get('target')!r} only")
            return Seq2SeqSummariser(folder, device=device)
        if folder.manifest.kind == "extractive":
            from mlnews.infer.extractive_model import TrainedExtractiveSummariser

            return TrainedExtractiveSummariser(folder, target=target, device=device)
        raise InputError(f"{folder.path}: summariser kind {folder.manifest.kind!r} is not supported by this mlnews")

    def summarise(self, item: str | Article, max_words: int | None = None) -> Summary:
        """Summarise one article (see the module docstring)."""
        return self.summarise_many([item], max_words=max_words)[0]

    @abc.abstractmethod
    def summarise_many(self, items: Sequence[str | Article], max_words: int | None = None) -> list[Summary]:
        """Summarise several articles (seq2seq models batch them)."""


def _prepare(item: str | Article) -> tuple[list[str], str, list[str]]:
    """Sentences (capped), language and notes for one input; empty input is an InputError."""
    text = article_text(item)
    if not text.strip():
        raise InputError("no text to summarise: the article body is empty")
    sents = split_sentences(text, max_sentences=MAX_SENTENCES + 1)
    notes = source_notes(item)
    if len(sents) > MAX_SENTENCES:
        sents = sents[:MAX_SENTENCES]
        notes.append(f"long article: only its first {MAX_SENTENCES} sentences were considered")
    if not sents:
        raise InputError("no text to summarise: the article has no sentences")
    lang = detect_lang(" ".join(sents[:20]))
    return sents, lang, notes + _lang_notes(lang)


def _check_budget(max_words: int | None) -> None:
    if max_words is not None and max_words < 1:
        raise InputError(f"--max-words: expected a number of words >= 1, got {max_words}")


class ExtractiveSummariser(Summariser):
    """lead-k or TextRank over razdel sentences; no model needed (an encoder optionally)."""

    def __init__(self, kind: str, k: int, similarity: str = "tfidf"):
        self.kind, self.k, self.similarity = kind, k, similarity
        self._embed: Callable | None = None
        self.method = f"{kind}-{k}"
        if kind == "textrank" and similarity != "tfidf":
            self._embed = encoder_embedder(similarity)
            self.method += f"+{Path(similarity).name}"

    def summarise_many(self, items: Sequence[str | Article], max_words: int | None = None) -> list[Summary]:
        from mlnews.infer import extractive

        out = []
        for _, t0, sents, lang, notes, skip in prepared_items(items, max_words):
            if self.kind == "lead":
                idx = extractive.lead(sents[skip:], self.k, max_words)
            else:
                idx = extractive.textrank(sents[skip:], self.k, max_words, embed=self._embed)
            idx = [i + skip for i in idx]
            out.append(extractive_summary(sents, idx, max_words, self.method, lang, notes, t0))
        return out


def prepared_items(items: Sequence[str | Article], max_words: int | None):
    """``(item, t0, sentences, lang, notes, skip)`` per input, for sentence-picking summarisers; ``skip`` is 1
    when the first sentence is a dateline ("МОСКВА, 20 окт – РИА Новости."), which is never picked."""
    _check_budget(max_words)

    def each():
        for item in items:
            t0 = time.perf_counter()
            sents, lang, notes = _prepare(item)
            yield item, t0, sents, lang, notes, (1 if len(sents) > 1 and is_dateline(sents[0]) else 0)

    return each()


def extractive_summary(sents: list[str], idx: list[int], max_words: int | None, method: str, lang: str,
                       notes: list[str], t0: float) -> Summary:
    """The Summary of the chosen sentences ``idx``; one sentence over ``max_words`` is cut (with a note)."""
    chosen = [sents[i] for i in idx]
    if max_words is not None and sum(count_words(s) for s in chosen) > max_words:
        chosen = [truncate_words(chosen[0], max_words)]
        notes.append(f"the best sentence is longer than {max_words} words and was cut")
    return Summary(" ".join(chosen), method, lang, chosen, time.perf_counter() - t0, idx, notes)


def encoder_embedder(name: str, batch_size: int = 32, max_length: int = 128) -> Callable:
    """Mean-pooled sentence embeddings from an encoder resolved by :func:`mlnews.models.resolve`."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from mlnews.models import resolve

    import transformers

    resolved = resolve(name)
    tok = AutoTokenizer.from_pretrained(resolved.path)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # e5 folders have no pooler; we mean-pool instead
    try:
        model = AutoModel.from_pretrained(resolved.path).eval()
    finally:
        transformers.logging.set_verbosity(verbosity)

    def embed(sentences: list[str]):
        chunks = []
        with torch.inference_mode():
            for i in range(0, len(sentences), batch_size):
                batch = [resolved.input_prefix + s for s in sentences[i : i + batch_size]]
                enc = tok(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
                hidden = model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                chunks.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())
        import numpy as np

        return np.concatenate(chunks)

    return embed


class Seq2SeqSummariser(Summariser):
    """A trained seq2seq folder (AutoModelForSeq2SeqLM + tokenizer + generation_config.json)."""

    def __init__(self, folder: ModelFolder | Path, device: str | None = None):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        if not isinstance(folder, ModelFolder):
            folder = ModelFolder.open(folder, task="summarisation")
        self.model_dir = folder.path
        self.manifest = folder.manifest
        inp = folder.manifest.input
        self.prefix: str = inp.prefix
        self.max_length: int = inp.max_length
        self.chunking: str = inp.chunking
        self.max_chunks: int = inp.max_chunks
        folder.safetensors_weights()  # a folder with only pytorch_model.bin is refused, never unpickled
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(self.model_dir, use_safetensors=True).eval()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self.method = f"seq2seq:{self.model_dir.resolve().name}"

    def _chunks(self, sents: list[str]) -> list[str]:
        """Head: the text (the tokenizer keeps its first ``max_length`` tokens, as in training);
        chunks: up to ``max_chunks`` groups of whole sentences of <= ``max_length`` tokens each."""
        if self.chunking == "head":
            return [" ".join(sents)]
        groups: list[list[str]] = [[]]
        used = 0
        for s in sents:
            n = len(self.tokenizer.tokenize(s)) + 1
            if groups[-1] and used + n > self.max_length:
                if len(groups) >= self.max_chunks:
                    break
                groups.append([])
                used = 0
            groups[-1].append(s)
            used += n
        return [" ".join(g) for g in groups if g]

    def generate(self, texts: list[str], batch_size: int = 16) -> list[str]:
        """Generate one output per input text with the folder's generation_config.json."""
        import torch

        outs: list[str] = []
        for i in range(0, len(texts), batch_size):
            batch = [self.prefix + t[: self.max_length * 12] for t in texts[i : i + batch_size]]  # as in training
            enc = self.tokenizer(batch, truncation=True, max_length=self.max_length, padding=True,
                                 return_tensors="pt").to(self.device)
            enc.pop("token_type_ids", None)
            with torch.inference_mode():
                ids = self.model.generate(**enc)
            outs.extend(t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True))
        return outs

    def summarise_many(self, items: Sequence[str | Article], max_words: int | None = None) -> list[Summary]:
        _check_budget(max_words)
        t0 = time.perf_counter()
        prepared = [_prepare(item) for item in items]
        chunk_lists = [self._chunks(sents) for sents, _, _ in prepared]
        flat = [c for chunks in chunk_lists for c in chunks]
        generated = iter(self.generate(flat))
        per_item = (time.perf_counter() - t0) / max(1, len(items))
        out = []
        for (sents, lang, notes), chunks in zip(prepared, chunk_lists):
            parts = [next(generated) for _ in chunks]
            parts = [p for p in parts if p]
            text = " ".join(parts)
            if max_words is not None and count_words(text) > max_words:
                text = truncate_words(text, max_words)
                notes.append(f"the generated summary was cut to {max_words} words")
            if len(chunks) > 1:
                notes.append(f"long article: summarised in {len(chunks)} chunks of <= {self.max_length} tokens")
            out.append(Summary(text, self.method, lang, split_sentences(text) if text else [], per_item, None, notes))
        return out
