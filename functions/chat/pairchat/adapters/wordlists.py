"""Where the text filter's words come from: a maintained word-list package and the operator.

The library is glin-profanity (MIT, multilingual JSON lists). Only its data files are read:
importing the package would build its own matcher at import time, which the cold start does
not need (pairchat.domain.textfilter matches). Read once per cold start.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from pathlib import Path

from pairchat.domain.textfilter import Mode, TextFilter
from pairchat.settings import Settings

LIBRARY = "glin_profanity"


class WordListError(ValueError):
    """A configured word list cannot be read."""


def library_dir() -> Path:
    spec = importlib.util.find_spec(LIBRARY)
    if spec is None or not spec.submodule_search_locations:
        raise WordListError(f"the {LIBRARY} package is not installed (TEXT_FILTER_LANGUAGES)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "dictionaries"


def library_words(languages: Iterable[str]) -> list[str]:
    """The package's words for each language (``english``, ``french``, ...)."""
    words: list[str] = []
    languages = list(languages)
    if not languages:
        return words
    base = library_dir()
    for language in languages:
        if not language.isalpha():
            raise WordListError(f"not a language name: {language!r}")
        path = base / f"{language.lower()}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WordListError(f"no word list for {language!r} in {LIBRARY}") from exc
        entries = data.get("words") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise WordListError(f"{path.name}: unexpected format")
        words.extend(w for w in entries if isinstance(w, str))
    return words


def file_words(path: str | None) -> list[str]:
    """One word or phrase per line; blank lines and ``#`` comments ignored."""
    if not path:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise WordListError(f"TEXT_FILTER_WORDS_FILE unreadable: {exc.strerror}") from exc
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def text_filter_from_settings(settings: Settings) -> TextFilter:
    mode: Mode = settings.text_filter  # type: ignore[assignment]
    if mode == "off":
        return TextFilter((), "off")
    words = [
        *library_words(settings.text_filter_languages),
        *settings.text_filter_words,
        *file_words(settings.text_filter_words_file),
    ]
    return TextFilter(words, mode, allow=settings.text_filter_allow)
