"""Properties of did_you_mean, the suggestion behind every "unknown key" message."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from lvgate.spelling import did_you_mean

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20)
LONG_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=20)
SUGGESTION = re.compile(r" \(did you mean '(.*)'\?\)", re.DOTALL)


@given(WORD, st.lists(WORD, max_size=8))
def test_suggests_one_of_the_choices_or_nothing(word: str, choices: list[str]) -> None:
    hint = did_you_mean(word, choices)
    if hint:
        match = SUGGESTION.fullmatch(hint)
        assert match is not None
        assert match.group(1) in choices


@given(WORD)
def test_no_choices_no_suggestion(word: str) -> None:
    assert did_you_mean(word, []) == ""


@given(st.lists(WORD, min_size=1, max_size=8), st.data())
def test_a_known_word_suggests_itself(choices: list[str], data: st.DataObject) -> None:
    word = data.draw(st.sampled_from(choices))
    assert did_you_mean(word, choices) == f" (did you mean '{word}'?)"


@given(LONG_WORD, st.data())
def test_one_typo_is_recognised(word: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(word) - 1))
    letter = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz"))
    typos = [
        word[:i] + word[i + 1 :],  # a letter left out
        word[:i] + letter + word[i:],  # a letter too many
        word[:i] + letter + word[i + 1 :],  # a wrong letter
        word[:i] + word[i + 1 : i + 2] + word[i : i + 1] + word[i + 2 :],  # two letters swapped
    ]
    for typo in typos:
        assert did_you_mean(typo, [word, "zzzzzzzz9"]) == f" (did you mean '{word}'?)", typo


@given(LONG_WORD)
def test_case_and_dash_do_not_matter(word: str) -> None:
    key = word[:2] + "_" + word[2:]
    assert did_you_mean(key.upper().replace("_", "-"), ["other", key]) == f" (did you mean '{key}'?)"


def test_examples_from_the_config_messages() -> None:
    assert did_you_mean("baud_rate", ["baudrate", "parity"]) == " (did you mean 'baudrate'?)"
    assert did_you_mean("prot", ["host", "port", "unit"]) == " (did you mean 'port'?)"
    assert did_you_mean("owner", ["site", "room", "gateway_id", "mqtt", "devices"]) == ""
