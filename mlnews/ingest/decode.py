"""Reading input files as text: missing files, directories, empty and binary files, BOMs and cp1251.

Everything that reads a page or an HTML file goes through :func:`read_text_file` (or
:func:`decode_bytes` for stdin), so every input gets the same checks and the same one-line
:class:`~mlnews.errors.InputError` messages, which name the file and say what was expected.

Decoding rules, in order:

1. a UTF-8 BOM is removed; a UTF-16 BOM (LE or BE) decodes the file as UTF-16;
2. a file with NUL bytes or a known binary signature (PDF, ZIP/DOCX, gzip, PNG, JPEG, GIF) is rejected;
3. strict UTF-8;
4. if that fails: cp1251 (the Windows Cyrillic code page), accepted only when at least
   ``CP1251_MIN_CYRILLIC`` of the decoded letters are Cyrillic; otherwise the file is rejected.

:class:`DecodedText` records which encoding was used, so callers can report a cp1251 fallback.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlnews.errors import InputError

#: Share of Cyrillic letters among all letters needed to accept a cp1251 reading.
CP1251_MIN_CYRILLIC = 0.6

_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or DOCX/XLSX)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_TAG = re.compile(r"<[^<>]{0,2000}>|&\w{1,10};")

EXPECTED = "expected a UTF-8 (or cp1251) text page or an HTML file"


@dataclass
class DecodedText:
    """Text of a file plus what was done to decode it."""

    text: str
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "cp1251"
    notes: list[str] = field(default_factory=list)


def _cyrillic_share(text: str, markup: bool = False, sample_chars: int = 200_000) -> float:
    sample = text[:sample_chars]
    if markup:
        sample = _TAG.sub(" ", sample)
    letters = len(_LETTER.findall(sample))
    if not letters:
        return 0.0
    return len(_CYRILLIC.findall(sample)) / letters


def check_bytes(data: bytes, name: str) -> None:
    """Reject empty (whitespace-only) and binary data with a one-line :class:`InputError`."""
    if not data.strip():
        raise InputError(f"{name}: empty file; {EXPECTED}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16 text has NUL bytes
    head = data[:8192]
    for magic, what in _BINARY_SIGNATURES:
        if head.startswith(magic):
            raise InputError(f"{name}: binary file ({what}); {EXPECTED}")
    if b"\x00" in head:
        raise InputError(f"{name}: binary file (contains NUL bytes); {EXPECTED}")


def decode_bytes(data: bytes, name: str, *, markup: bool = False) -> DecodedText:
    """Decode ``data`` read from ``name`` (used in messages); raise :class:`InputError` if it is not text.

    With ``markup`` (HTML), tags are ignored when measuring the share of Cyrillic letters.
    """
    check_bytes(data, name)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: has a UTF-16 byte-order mark but is not valid UTF-16 ({exc.reason})") from None
        return DecodedText(text, "utf-16", [f"{name}: decoded as UTF-16 (byte-order mark)"])
    if data.startswith(b"\xef\xbb\xbf"):
        encoding, payload = "utf-8-sig", data[3:]
    else:
        encoding, payload = "utf-8", data
    try:
        return DecodedText(payload.decode("utf-8"), encoding)
    except UnicodeDecodeError as exc:
        utf8_error = f"invalid UTF-8 byte 0x{payload[exc.start]:02x} at offset {exc.start}"
    text = payload.decode("cp1251", errors="replace")
    share = _cyrillic_share(text, markup)
    if share >= CP1251_MIN_CYRILLIC:
        return DecodedText(
            text, "cp1251", [f"{name}: not valid UTF-8 ({utf8_error}); decoded as cp1251 ({share:.0%} Cyrillic letters)"]
        )
    raise InputError(f"{name}: not UTF-8 text ({utf8_error}) and not cp1251 Cyrillic text either; {EXPECTED}")


def read_bytes(path: str | os.PathLike) -> bytes:
    """Read a file's bytes; a missing file, a directory or an unreadable file raise :class:`InputError`."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a directory; expected a page file (a directory can be given to `mlnews classify`)")
    if not p.exists():
        raise InputError(f"{p}: no such file; {EXPECTED}")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None


def read_text_file(path: str | os.PathLike, *, markup: bool = False) -> DecodedText:
    """Read and decode one input file; missing files, directories and binary files raise :class:`InputError`."""
    return decode_bytes(read_bytes(path), str(path), markup=markup)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Split on LF, CRLF or a lone CR (old Mac files); nothing else counts as a line break."""
    return _LINE_BREAK.split(text)
