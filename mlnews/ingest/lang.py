"""Language identification for news text: ``ru``, ``uk``, ``en`` or ``other``.

Cheap letter cues decide most cases; lingua-language-detector decides the rest:

1. Only the first ``MAX_CHARS`` characters are looked at (bounded cost on huge inputs).
2. No letters at all -> ``other``.
3. Cyrillic letters are at least ``CYRILLIC_SHARE`` (30%) of the Cyrillic + Latin letters (so
   `Adobe выпустила Photoshop для iPad` is Russian: brand names are Latin in every language):
   - letters of other Cyrillic alphabets (Belarusian ў, Serbian/Macedonian ј љ њ ђ ћ џ ѓ ќ ѕ,
     Kazakh/Tatar ә ғ қ ң ө ұ ү һ) -> ``other``;
   - Ukrainian-only letters (і ї є ґ) and no Russian-only letters (ы э ъ ё) -> ``uk``; the reverse -> ``ru``;
   - both or neither -> lingua restricted to Russian and Ukrainian.
4. Otherwise, mostly Latin letters -> lingua over English, German, French, Spanish and Polish;
   ``en`` if it picks English, else ``other``. Very short Latin headlines are the weak spot
   (``Ukraine war latest`` reads as German); Russian and Ukrainian are what this is tuned for.
5. Anything else (Greek, Arabic, CJK, ...) -> ``other``.

The lingua detectors are built once, on first use (their language models load lazily).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from mlnews.text import replace_surrogates

MAX_CHARS = 2000
CYRILLIC_SHARE = 0.3

_CYR = re.compile(r"[\u0400-\u04ff]")
_LAT = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_UK_ONLY = re.compile(r"[іїєґІЇЄҐ]")
_RU_ONLY = re.compile(r"[ыэъёЫЭЪЁ]")
_OTHER_CYR = re.compile(r"[ўЎјЈљЉњЊђЂћЋџЏѓЃќЌѕЅәӘғҒқҚңҢөӨұҰүҮһҺ]")

_lock = threading.Lock()
_detectors: dict[str, Any] = {}


def _detector(kind: str) -> Any:
    """The lingua detector for ``"cyrillic"`` (ru/uk) or ``"latin"`` (en + others), built once."""
    with _lock:
        if kind not in _detectors:
            from lingua import Language, LanguageDetectorBuilder

            if kind == "cyrillic":
                langs = [Language.RUSSIAN, Language.UKRAINIAN]
            else:
                # few languages: each one's models take ~1 s to load on first use
                langs = [Language.ENGLISH, Language.GERMAN, Language.FRENCH, Language.SPANISH, Language.POLISH]
            builder = LanguageDetectorBuilder.from_languages(*langs)
            _detectors[kind] = builder.build()
        return _detectors[kind]


def detect_lang(text: str) -> str:
    """Return ``"ru"``, ``"uk"``, ``"en"`` or ``"other"`` for ``text`` (a headline or a whole article)."""
    sample = replace_surrogates((text or "")[:MAX_CHARS])  # lingua cannot take a lone surrogate
    n_cyr = len(_CYR.findall(sample))
    n_lat = len(_LAT.findall(sample))
    if n_cyr + n_lat == 0:
        return "other"
    if n_cyr >= CYRILLIC_SHARE * (n_cyr + n_lat):
        if _OTHER_CYR.search(sample):
            return "other"
        has_uk = bool(_UK_ONLY.search(sample))
        has_ru = bool(_RU_ONLY.search(sample))
        if has_uk != has_ru:
            return "uk" if has_uk else "ru"
        guess = _detector("cyrillic").detect_language_of(sample)
        if guess is None:
            return "other"
        return "uk" if guess.name == "UKRAINIAN" else "ru"
    if n_lat < 0.5 * len(_LETTER.findall(sample)):
        return "other"
    guess = _detector("latin").detect_language_of(sample)
    return "en" if guess is not None and guess.name == "ENGLISH" else "other"
