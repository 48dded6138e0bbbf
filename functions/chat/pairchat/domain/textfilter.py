"""The chat text filter: a word list matched on normalized text, masked or refused.

Every ``send`` passes through :meth:`TextFilter.apply` before the relay script runs, so a
refused message changes nothing and costs no Redis call. The filter keeps nothing: no text
is logged, stored or counted per word (the service counts only that a message was masked or
refused).

Matching is on **tokens of normalized text**, never substrings (no "Scunthorpe problem":
``class``, ``analysis`` and ``cocktail`` pass). Normalizing folds, in one ``str.translate``:

* case, and accents (``é`` -> ``e``, ``ß`` stays a letter of its own word);
* common leetspeak: ``0 1 3 4 5 7 8 @ $ !`` -> ``o i e a s t b a s i`` (an ``!`` that ends a
  word is punctuation, not an ``i``);
* a few Cyrillic and Greek letters that look Latin (Cyrillic a, e, o, p, c, x ...);
* invisible characters (zero-width spaces and joiners, soft hyphens) are dropped, and
  every other non-letter separates tokens.

The word list is normalized the same way, so ``a$$`` in a list and ``A$$`` in a message meet.
Multi-word entries (``strip club``) match consecutive tokens. What is not caught: words split by
spaces (``f u c k``), stretched letters, and misspellings; the filter is a speed bump for the
casual case, reports and blocks are the remedy for the determined (docs/security.md).

Cost: a clean message is one regex pass for word-final ``!``, one ``translate``, one ``split``
and one ``set.isdisjoint``; only a message with a hit pays for finding spans
(``make bench``: bench/textfilter.py, target under 50 us p50 for 500 characters).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final, Literal

from pairchat.domain.errors import TextRefused

Mode = Literal["off", "mask", "block"]
MODES: Final = ("off", "mask", "block")

#: Leetspeak, applied to letters' neighbours as to the list. '!' at a word's end is excluded
#: before the table runs (see ``_WORD_FINAL_BANG``).
LEET: Final = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
               "@": "a", "$": "s", "!": "i"}  # fmt: skip
#: Letters of other scripts that render like Latin ones (a common way round word lists).
HOMOGLYPHS: Final = {
    "\u0430": "a",
    "\u0432": "b",
    "\u0435": "e",
    "\u0451": "e",
    "\u043a": "k",
    "\u043c": "m",
    "\u043d": "h",
    "\u043e": "o",
    "\u0440": "p",
    "\u0441": "c",
    "\u0442": "t",
    "\u0443": "y",
    "\u0445": "x",
    "\u0456": "i",
    "\u0458": "j",
    "\u0455": "s",
    "\u03b1": "a",
    "\u03b2": "b",
    "\u03b5": "e",
    "\u03b9": "i",
    "\u03ba": "k",
    "\u03bd": "v",
    "\u03bf": "o",
    "\u03c1": "p",
    "\u03c4": "t",
    "\u03c5": "u",
    "\u03c7": "x",
}
#: Characters that render as nothing: dropped, so they cannot split a word.
INVISIBLE: Final = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u2060\u2061\u2062\u2063\u2064\ufeff"
)
#: Code points the table covers: Latin, Greek, Cyrillic and the punctuation blocks. Others
#: (CJK, emoji, ...) pass unchanged and still separate nothing: they are part of a token.
_TABLE_RANGES: Final = ((0x0000, 0x0530), (0x1E00, 0x1F00), (0x2000, 0x2070), (0x3000, 0x3001))

_WORD_FINAL_BANG = re.compile(r"!+(?![^\s!])")


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for lo, hi in _TABLE_RANGES:
        for cp in range(lo, hi):
            ch = chr(cp)
            if ch in INVISIBLE:
                table[cp] = None
            elif ch in LEET:
                table[cp] = LEET[ch]
            elif ch.lower() in HOMOGLYPHS:
                table[cp] = HOMOGLYPHS[ch.lower()]
            elif ch.isalnum():
                base = "".join(
                    c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
                ).lower()
                if len(base) == 1 and base.isalnum():
                    table[cp] = base
                elif len(ch.lower()) == 1:
                    table[cp] = ch.lower()
                # else: a letter whose fold is several characters stays as it is
            else:
                table[cp] = " "
    for ch in INVISIBLE:
        table[ord(ch)] = None
    return table


FOLD: Final = _build_table()
#: The same table as a list indexed by code point: ``str.translate`` looks a list up faster
#: than a dict (code points past its end pass unchanged).
_FOLD_SEQ: Final = [FOLD.get(cp, chr(cp)) for cp in range(max(FOLD) + 1)]


def normalize(text: str) -> str:
    """The text as the filter sees it (same length as ``text`` unless it had invisible
    characters, which are dropped)."""
    if "!" in text:
        text = _WORD_FINAL_BANG.sub(_blank, text)
    return text.translate(_FOLD_SEQ)


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


class TextFilter:
    """A compiled word list. Thread-safe: nothing changes after construction."""

    def __init__(
        self, words: Iterable[str], mode: Mode = "mask", allow: Iterable[str] = ()
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"text filter mode must be one of {', '.join(MODES)}")
        self.mode: Mode = mode
        allowed = {" ".join(normalize(a).split()) for a in allow}
        singles: set[str] = set()
        phrases: dict[str, list[tuple[str, ...]]] = {}
        for word in words:
            tokens = tuple(normalize(word).split())
            if not tokens or " ".join(tokens) in allowed:
                continue
            if len(tokens) == 1:
                singles.add(tokens[0])
            else:
                phrases.setdefault(tokens[0], []).append(tokens)
        self._singles = frozenset(singles)
        self._phrases = {first: sorted(set(v), key=len) for first, v in phrases.items()}
        #: Any token that may start a hit: the fast path asks only this set.
        self._starts = self._singles | frozenset(self._phrases)

    def __len__(self) -> int:
        return len(self._singles) + sum(len(v) for v in self._phrases.values())

    @property
    def enabled(self) -> bool:
        return self.mode != "off" and len(self) > 0

    def hits(self, text: str) -> bool:
        """Whether the text contains a listed word or phrase."""
        tokens = normalize(text).split()
        if self._starts.isdisjoint(tokens):
            return False
        return bool(self._matches(tokens))

    def apply(self, text: str) -> str:
        """What to relay: ``text`` itself, or (``mask``) with every hit replaced by ``*``.
        Raises :class:`TextRefused` in ``block`` mode when there is a hit."""
        if self.mode == "off":
            return text
        folded = normalize(text)
        tokens = folded.split()
        if self._starts.isdisjoint(tokens):
            return text
        matched = self._matches(tokens)
        if not matched:
            return text
        if self.mode == "block":
            raise TextRefused()
        return self._mask(text, folded, matched, tokens)

    def _matches(self, tokens: list[str]) -> list[tuple[int, int]]:
        """(first token, token count) of every hit, left to right; longest phrase first."""
        found: list[tuple[int, int]] = []
        singles, phrases, starts = self._singles, self._phrases, self._starts
        n = len(tokens)
        for i in [i for i, token in enumerate(tokens) if token in starts]:
            token = tokens[i]
            best = 1 if token in singles else 0
            for phrase in phrases.get(token, ()):
                size = len(phrase)
                if size > best and i + size <= n and tuple(tokens[i : i + size]) == phrase:
                    best = size
            if best:
                found.append((i, best))
        return found

    @staticmethod
    def _mask(text: str, folded: str, matched: list[tuple[int, int]], tokens: list[str]) -> str:
        """Masks the hits, found again in ``folded`` left to right (the hits are few; the
        tokens before them are not walked one by one)."""
        spans: list[tuple[int, int]] = []
        pos = 0
        for first, count in matched:
            words = tokens[first : first + count]
            while True:
                start = _find_token(folded, words[0], pos)
                end = _phrase_end(folded, start + len(words[0]), words[1:])
                if end >= 0:
                    break
                pos = start + 1
            spans.append((start, end))
            pos = end
        if len(folded) != len(text):  # invisible characters were dropped: map positions back
            size = len(_FOLD_SEQ)
            kept = [i for i, ch in enumerate(text) if ord(ch) >= size or _FOLD_SEQ[ord(ch)]]
            spans = [(kept[s], kept[e - 1] + 1) for s, e in spans]
        pieces: list[str] = []
        done = 0
        for s, e in spans:
            pieces.append(text[done:s])
            pieces.append(_NOT_SPACE.sub("*", text[s:e]))
            done = e
        pieces.append(text[done:])
        return "".join(pieces)


_NOT_SPACE = re.compile(r"\S")


def _find_token(folded: str, word: str, pos: int) -> int:
    """Offset of the next whole-token occurrence of ``word`` at or after ``pos`` (the caller
    knows there is one)."""
    n, size = len(folded), len(word)
    while True:
        at = folded.find(word, pos)
        if at < 0:  # pragma: no cover - the token came from this very text
            raise AssertionError("token not found")
        before_ok = at == 0 or folded[at - 1].isspace()
        if before_ok and (at + size == n or folded[at + size].isspace()):
            return at
        pos = at + 1


def _phrase_end(folded: str, pos: int, rest: list[str]) -> int:
    """Where the phrase ends if ``rest`` follows ``pos`` token by token, else -1."""
    n = len(folded)
    for word in rest:
        while pos < n and folded[pos].isspace():
            pos += 1
        end = pos + len(word)
        if not folded.startswith(word, pos) or (end < n and not folded[end].isspace()):
            return -1
        pos = end
    return pos
