"""Where the filter's words come from (adapters/wordlists.py): the library and the operator."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairchat.adapters.wordlists import (
    WordListError,
    file_words,
    library_words,
    text_filter_from_settings,
)
from pairchat.domain.errors import TextRefused
from pairchat.settings import Settings


def test_the_library_list_loads_and_filters_by_default() -> None:
    words = library_words(["english"])
    assert len(words) > 300 and "asshole" in words
    f = text_filter_from_settings(Settings())
    assert f.mode == "mask" and f.apply("you asshole") == "you *******"
    # The default allow list keeps everyday words of that list readable.
    assert f.apply("this sucks, what's your sex?") == "this sucks, what's your sex?"


def test_operator_words_from_the_environment_and_a_file(tmp_path: Path) -> None:
    listing = tmp_path / "words.txt"
    listing.write_text("# house rules\nzorblax\n\nfoo bar\n")
    assert file_words(str(listing)) == ["zorblax", "foo bar"]
    s = Settings.from_env(
        {
            "TEXT_FILTER": "block",
            "TEXT_FILTER_LANGUAGES": "",
            "TEXT_FILTER_WORDS": "grommit, wallace",
            "TEXT_FILTER_WORDS_FILE": str(listing),
        }
    )
    f = text_filter_from_settings(s)
    for text in ("hi grommit", "z0rblax", "Foo  Bar"):
        with pytest.raises(TextRefused):
            f.apply(text)
    assert f.apply("asshole") == "asshole"  # no library list: only the operator's


def test_allow_list_replaces_the_default_when_set() -> None:
    f = text_filter_from_settings(Settings.from_env({"TEXT_FILTER_ALLOW": ""}))
    assert f.apply("this sucks") == "this *****"


def test_bad_configuration_fails_at_cold_start(tmp_path: Path) -> None:
    with pytest.raises(WordListError):
        library_words(["klingon"])
    with pytest.raises(WordListError):
        library_words(["../../etc"])
    with pytest.raises(WordListError):
        file_words(str(tmp_path / "missing.txt"))
    assert text_filter_from_settings(Settings(text_filter="off")).enabled is False
