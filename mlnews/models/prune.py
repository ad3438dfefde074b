"""Vocabulary pruning: keep only the pieces a corpus uses, slice the word embeddings to match.

The e5 encoder's 250k-piece XLM-R vocabulary is 82% of its weights, and a ru+uk news corpus uses a
small fraction of it. :func:`prune_vocab` keeps the special tokens, every piece the tokenizer produces
on the corpus texts (plus, by default, the single-character pieces of the Cyrillic, Latin, digit and
punctuation ranges so unseen words still split into known pieces), keeps the original order and
scores, rebuilds the Unigram tokenizer and writes a self-contained folder. It then verifies that every
corpus text tokenises to the same pieces and that hidden states are identical on a sample. The e5 /
XLM-R tokenizer is rebuilt as an ``XLMRobertaTokenizer``; any other Unigram tokenizer (e.g. a small
one trained for tests or a custom encoder of the summariser) keeps its own tokenizer.json, cut.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from mlnews.errors import InputError, MlnewsError

#: Prefixes the encoder is used with; their pieces are always kept.
PREFIXES = ("query: ", "passage: ")
_KEEP_CHAR_RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x400, 0x52F), (0x2000, 0x206F), (0x20A0, 0x20BF))


def _keep_char(piece: str) -> bool:
    core = piece[1:] if piece.startswith("▁") and len(piece) == 2 else piece
    return len(core) == 1 and any(lo <= ord(core) <= hi for lo, hi in _KEEP_CHAR_RANGES)


def _precompiled_charsmap(spec: dict) -> bytes | None:
    norm_spec = spec.get("normalizer") or {}
    for norm in norm_spec.get("normalizers", [norm_spec]):
        if norm.get("type") == "Precompiled":
            return base64.b64decode(norm["precompiled_charsmap"])
    return None


def _vocab(spec: dict, where: Path) -> list[tuple[str, float]]:
    model = spec.get("model", {})
    if model.get("type") != "Unigram":
        raise MlnewsError(f"{where}: vocabulary pruning needs a Unigram (SentencePiece) tokenizer")
    return [(p, float(s)) for p, s in model["vocab"]]


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def prune_vocab(
    src_folder: str | Path,
    texts: Iterable[str],
    out_folder: str | Path,
    *,
    keep_basic_chars: bool = True,
    check_sample: int = 16,
) -> dict:
    """Write a pruned copy of the model folder ``src_folder`` into ``out_folder`` (existing, empty).

    Keeps the special tokens, every piece the tokenizer produces on ``texts`` (and on the e5
    prefixes) and, with ``keep_basic_chars``, the single-character pieces of the Cyrillic, Latin,
    digit and punctuation ranges. Returns a report: texts, pieces before/after, sizes in MB, max
    hidden-state difference on a sample of ``check_sample`` texts. Raises :class:`MlnewsError` if
    any text tokenises differently after pruning or the sample's hidden states differ.
    """
    from mlnews.models.e5 import quiet_transformers

    with quiet_transformers():
        return _prune_vocab(Path(src_folder), texts, Path(out_folder), keep_basic_chars, check_sample)


def _prune_vocab(src: Path, texts: Iterable[str], out: Path, keep_basic_chars: bool, check_sample: int) -> dict:
    import torch
    from safetensors.numpy import load_file, save_file
    from tokenizers import Tokenizer
    from transformers import AutoModel, AutoTokenizer

    from mlnews.models.e5 import build_tokenizer

    # The source's tokenizer.json read directly: same pipeline, much faster than AutoTokenizer for 250k pieces.
    src_tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    src_tok.no_truncation()  # a fine-tuned model's tokenizer.json keeps the truncation it was trained with
    src_tok.no_padding()
    spec = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = _vocab(spec, src / "tokenizer.json")
    charsmap = _precompiled_charsmap(spec)
    xlmr = charsmap is not None and [p for p, _ in vocab[:4]] == ["<s>", "<pad>", "</s>", "<unk>"]
    if xlmr:
        del spec
    tok_cfg = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))

    given = list(texts)
    texts = [t for t in given if isinstance(t, str) and t.strip()]
    if not texts:
        raise MlnewsError("vocabulary pruning needs at least one non-empty text")
    all_texts = list(PREFIXES) + texts
    old_pieces: list[list[str]] = []
    used: set[int] = set(range(4)) | set(src_tok.get_added_tokens_decoder())
    for batch in _batches(all_texts, 512):
        for enc in src_tok.encode_batch(batch, add_special_tokens=False):
            used.update(enc.ids)
            old_pieces.append(enc.tokens)
    from_corpus = len(used)
    if keep_basic_chars:
        used.update(i for i, (piece, _) in enumerate(vocab) if _keep_char(piece))
    keep = sorted(used)

    remap = {old: new for new, old in enumerate(keep)}
    if xlmr:  # e5 / XLM-R: rebuilt as an XLMRobertaTokenizer over the kept pieces (same order, scores, normaliser)
        new_tok = build_tokenizer([vocab[i] for i in keep], charsmap)
        new_tok.model_max_length = int(tok_cfg.get("model_max_length", 512))
        new_tok.save_pretrained(str(out))
    else:  # any other Unigram tokenizer: the same tokenizer.json with the vocabulary cut and ids renumbered
        _write_cut_tokenizer(src, spec, vocab, keep, remap, out)

    # Weights: slice the word-embedding rows; everything else unchanged.
    cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
    rows_before = int(cfg["vocab_size"])
    weights = load_file(str(src / "model.safetensors"))
    emb_keys = [k for k in weights if k.endswith("embeddings.word_embeddings.weight")]
    other = [k for k in weights if k not in emb_keys and weights[k].shape[:1] == (rows_before,)]
    if len(emb_keys) != 1 or other:
        raise MlnewsError(
            f"{src}: vocabulary pruning needs an encoder folder with one word-embedding matrix and no other "
            f"vocabulary-sized tensor; found {emb_keys or 'none'} and {other or 'nothing else'}"
        )
    weights[emb_keys[0]] = np.ascontiguousarray(weights[emb_keys[0]][keep])
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    del weights
    cfg["vocab_size"] = len(keep)
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if isinstance(cfg.get(name), int):
            cfg[name] = remap.get(cfg[name])
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    card = (src / "README.md").read_text(encoding="utf-8") if (src / "README.md").is_file() else ""
    card += (
        f"\nVocabulary pruned by mlnews to the {len(keep)} pieces (of {len(vocab)}) that a corpus of "
        f"{len(texts)} texts uses, plus single Latin/Cyrillic/digit/punctuation characters; the word "
        "embeddings are the matching rows of the original.\n"
    )
    (out / "README.md").write_text(card, encoding="utf-8")

    # Verify: the reloaded tokenizer gives the same pieces for every text; same hidden states on a sample.
    reloaded = AutoTokenizer.from_pretrained(str(out))
    reloaded.backend_tokenizer.no_truncation()  # whole texts, as above (a cut tokenizer.json keeps the source's)
    n_checked = 0
    for start, batch in zip(range(0, len(all_texts), 512), _batches(all_texts, 512)):
        for i, enc in enumerate(reloaded.backend_tokenizer.encode_batch(batch, add_special_tokens=False)):
            if enc.tokens != old_pieces[start + i]:
                raise MlnewsError(
                    f"pruned tokenizer splits {batch[i][:60]!r} differently; vocabulary pruning aborted"
                )
            n_checked += 1
    step = max(1, len(texts) // max(1, check_sample))
    sample = [PREFIXES[0] + t for t in texts[::step][:check_sample]]
    max_diff = 0.0
    if sample:
        new_batch = reloaded(sample, padding=True, truncation=True, max_length=128, return_tensors="pt")
        old_ids = torch.tensor(keep)[new_batch["input_ids"]]  # the same pieces in the original numbering
        src_tok.enable_truncation(128)
        for row, enc in zip(old_ids.tolist(), src_tok.encode_batch(sample)):
            if row[: len(enc.ids)] != enc.ids:
                raise MlnewsError("pruned vocabulary ids do not map back onto the original tokenizer's ids")
        m_old = AutoModel.from_pretrained(str(src)).eval()  # missing pooler: expected, e5 has none
        m_new = AutoModel.from_pretrained(str(out)).eval()
        with torch.no_grad():
            h_old = m_old(input_ids=old_ids, attention_mask=new_batch["attention_mask"]).last_hidden_state
            h_new = m_new(**new_batch).last_hidden_state
        max_diff = float((h_old - h_new).abs().max())
        if max_diff > 1e-5:
            raise MlnewsError(f"pruned model's hidden states differ from the original's (max |diff| {max_diff:.2e})")

    size = lambda folder: sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6  # noqa: E731
    return {
        "texts": len(texts),
        "texts_skipped_empty": len(given) - len(texts),
        "texts_checked": n_checked,
        "pieces_before": len(vocab),
        "pieces_after": len(keep),
        "pieces_from_corpus": from_corpus,
        "rows_before": rows_before,
        "mb_before": size(src),
        "mb_after": size(out),
        "sample_max_abs_diff": max_diff,
    }


def _write_cut_tokenizer(src: Path, spec: dict, vocab: list, keep: list[int], remap: dict[int, int], out: Path) -> None:
    """Save the source tokenizer into ``out`` with only the ``keep`` pieces; every id renumbered by ``remap``."""
    from transformers import AutoTokenizer

    model = spec["model"]
    model["vocab"] = [list(vocab[i]) for i in keep]
    if model.get("unk_id") is not None:
        model["unk_id"] = remap[model["unk_id"]]
    for added in spec.get("added_tokens", []):
        added["id"] = remap[added["id"]]
    _remap_post_processor(spec.get("post_processor"), remap)
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(str(out))
    (out / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    cfg_path = out / "tokenizer_config.json"
    tok_cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    if isinstance(tok_cfg.get("added_tokens_decoder"), dict):
        tok_cfg["added_tokens_decoder"] = {str(remap[int(k)]): v for k, v in tok_cfg["added_tokens_decoder"].items()}
    cfg_path.write_text(json.dumps(tok_cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _remap_post_processor(node, remap: dict[int, int]) -> None:
    """Special-token ids inside a tokenizer.json post-processor (Roberta / Bert / Template / Sequence)."""
    if isinstance(node, dict):
        for key in ("cls", "sep"):
            if isinstance(node.get(key), list) and len(node[key]) == 2:
                node[key][1] = remap[node[key][1]]
        if isinstance(node.get("special_tokens"), dict):
            for entry in node["special_tokens"].values():
                entry["ids"] = [remap[i] for i in entry.get("ids", [])]
        for child in node.get("processors", []) or []:
            _remap_post_processor(child, remap)


#: Text columns read from a dataset folder built by ``mlnews data build``.
DATASET_COLUMNS = ("text", "title", "lead", "body")


def _dataset_texts(folder: Path, add) -> None:
    from mlnews.data import load_built

    built = load_built(folder)
    for dd in (built.classification, built.summarisation):
        for split in (dd or {}).values():
            cols = [c for c in DATASET_COLUMNS if c in split.column_names]
            for row in split.select_columns(cols):
                add(row, cols)


def iter_corpus_texts(paths: Sequence[str | Path], fields: Sequence[str]) -> tuple[list[str], dict]:
    """Read the texts of a pruning corpus.

    Each path is a dataset folder written by ``mlnews data build`` (its ``text``/``title``/``lead``/
    ``body`` columns, all splits), a data config (``.yaml``, built and cached with
    :func:`mlnews.data.ensure_dataset`), or any input of :mod:`mlnews.ingest.inputs` (JSONL, CSV/TSV,
    Parquet, TXT lines, pages, directories, globs): ``fields`` of each record, every non-empty one a text.
    Returns the texts and counts ``{"files", "records", "texts", "skipped_empty"}``; a malformed row
    raises :class:`InputError` naming the file and line.
    """
    from mlnews.data import ensure_dataset, is_dataset_dir
    from mlnews.ingest.inputs import BadRow, iter_source, resolve_inputs

    texts: list[str] = []
    counts = {"files": 0, "records": 0, "texts": 0, "skipped_empty": 0}

    def add(rec: dict, keys: Sequence[str] = fields) -> None:
        counts["records"] += 1
        got = [rec[f] for f in keys if isinstance(rec.get(f), str) and rec[f].strip()]
        if got:
            texts.extend(got)
        else:
            counts["skipped_empty"] += 1

    files: list[str] = []
    for p in map(Path, paths):
        if p.suffix.lower() in {".yaml", ".yml"} or is_dataset_dir(p):
            counts["files"] += 1
            _dataset_texts(ensure_dataset(p), add)
        else:
            files.append(str(p))
    for source, fmt in resolve_inputs(files, stdin=False) if files else []:
        counts["files"] += 1
        for item in iter_source(source, fmt):
            if isinstance(item, BadRow):
                raise InputError(str(item))
            add(item[1], list(fields) if fmt not in ("txt", "page") else ["text", "lead", "body"])
    counts["texts"] = len(texts)
    return texts, counts


def prepare_pruned(paths: Sequence[str | Path], fields: Sequence[str] = ("title", "lead", "text"),
                   *, force: bool = True) -> dict:
    """Build ``$MLNEWS_CACHE/models/e5-small-ruuk`` from e5-small and the texts of ``paths``."""
    from mlnews.models import cache
    from mlnews.models.resolve import E5_PREFIX, PRUNED_ALIAS, prepare_e5

    src, _ = prepare_e5()
    texts, counts = iter_corpus_texts(paths, fields)
    report: dict = {}

    def make(tmp: Path) -> dict:
        report.update(prune_vocab(src, texts, tmp))
        parent = cache.read_stamp(src) or {}
        return {
            "alias": PRUNED_ALIAS,
            "input_prefix": E5_PREFIX,
            "pruned_from": {"alias": "e5-small", "weights_sha256": parent.get("weights_sha256")},
            "corpus": {"paths": [str(p) for p in paths], "fields": list(fields), **counts},
            "pieces": report["pieces_after"],
            "vocab_size": report["pieces_after"],
        }

    path, _ = cache.build(PRUNED_ALIAS, make, force=force,
                          message=f"mlnews: pruning e5-small's vocabulary to {counts['texts']} texts")
    return {"path": path, **counts, **report}
