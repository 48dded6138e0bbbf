"""The text filter (domain/textfilter.py): normalized token matching, mask/block/off."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairchat.domain.errors import TextRefused
from pairchat.domain.textfilter import TextFilter, normalize

WORDS = ["badword", "a$$", "strip club", "2 girls 1 cup", "fück"]


@pytest.fixture
def mask() -> TextFilter:
    return TextFilter(WORDS, "mask")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a badword here", "a ******* here"),
        ("BADWORD!", "*******!"),  # case; a word-final ! is punctuation
        ("b4dw0rd", "*******"),  # leetspeak digits
        ("bädwörd", "*******"),  # accents
        ("you A$$", "you ***"),  # the list's own leet matches the message's
        ("you @ss", "you ***"),
        ("you \u0430ss", "you ***"),  # a Cyrillic a
        ("bad\u200bword", "********"),  # a zero-width space does not split it
        ("fuck", "****"),  # the list's accent folds too
        ("strip   club tonight", "*****   **** tonight"),  # a phrase across spaces
        ("2 girls 1 cup", "* ***** * ***"),
        ("badword,badword", "*******,*******"),
    ],
)
def test_masks_normalized_hits_in_place(mask: TextFilter, text: str, expected: str) -> None:
    assert mask.apply(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "hello there",
        "badwords are not the word",  # tokens, not substrings: no Scunthorpe problem
        "notabadword",
        "class analysis assistant",
        "strip the club",  # a phrase's words apart
        "b a d w o r d",  # split letters: not caught (documented)
        "",
    ],
)
def test_leaves_clean_text_untouched(mask: TextFilter, text: str) -> None:
    assert mask.apply(text) is text


def test_block_refuses_and_off_passes(mask: TextFilter) -> None:
    block = TextFilter(WORDS, "block")
    with pytest.raises(TextRefused) as info:
        block.apply("such a b4dword")
    assert info.value.code == "text_refused" and "b4dword" not in info.value.message
    assert block.apply("clean") == "clean"
    off = TextFilter(WORDS, "off")
    assert off.apply("badword") == "badword" and not off.enabled


def test_allow_list_drops_entries() -> None:
    f = TextFilter(WORDS, "mask", allow=["strip club", "BADWORD"])
    assert f.apply("strip club badword a$$") == "strip club badword ***"


def test_an_empty_list_is_not_enabled() -> None:
    assert not TextFilter([], "mask").enabled and TextFilter(WORDS, "mask").enabled


def test_normalize_keeps_length_without_invisible_characters() -> None:
    text = "Ünïcödé 123 $@! ok"
    assert len(normalize(text)) == len(text)
    assert normalize("a\u200bb") == "ab"


def test_nothing_is_logged(mask: TextFilter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mask.apply("a badword here")
    with pytest.raises(TextRefused):
        TextFilter(WORDS, "block").apply("a badword here")
    assert caplog.records == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_masking_keeps_the_shape_and_leaves_no_hit(text: str) -> None:
    f = TextFilter(WORDS, "mask")
    out = f.apply(text)
    assert len(out) == len(text)
    assert all(a == b or b == "*" for a, b in zip(text, out, strict=True))
    assert not f.hits(out)
