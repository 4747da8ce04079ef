"""Wiegand decoding against the shared vectors, and encode/decode properties for every format."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from lvgate.drivers.access.wiegand import CardRejected, WiegandFormat, all_formats, decode
from tests.shared_fixtures import fixture_path

DEFAULT = ["H10301", "H10306", "C1k35s", "H10304"]
WITH_PARITY = [name for name, fmt in all_formats().items() if fmt.parity]


def vectors() -> dict[str, Any]:
    with fixture_path("wiegand", "vectors.yaml").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def fmts(*names: str) -> list[WiegandFormat]:
    return [all_formats()[n] for n in names]


def test_every_real_26_and_35_bit_vector_decodes() -> None:
    data = vectors()
    cases = data["vectors_26bit"] + data["vectors_35bit"]
    assert len(cases) > 40
    for case in cases:
        card = decode(case["bits"], fmts(*DEFAULT))
        expected_fc = case["facility_code"] if "facility_code" in case else case["company_id"]
        assert (card.facility_code, card.card_number) == (expected_fc, case["card_number"]), case
        assert card.format == ("H10301" if len(case["bits"]) == 26 else "C1k35s")


def test_every_derived_vector_decodes_in_its_format() -> None:
    for case in vectors()["derived_vectors"]:
        card = decode(case["bits"], fmts(case["format"]))
        expected_fc = case.get("facility_code", case.get("company_id"))
        assert (card.facility_code, card.card_number) == (expected_fc, case["card_number"]), case


def test_data24_of_the_real_vectors_matches_the_stripped_bits() -> None:
    h10301 = all_formats()["H10301"]
    checked = 0
    for case in vectors()["vectors_26bit"]:
        if "data24_decimal" in case:
            assert h10301.data_value(case["bits"]) == case["data24_decimal"]
            assert h10301.from_data_bits(case["data24_decimal"]) == case["bits"]
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("index", range(3))
def test_negative_vectors_are_rejected_with_the_right_reason(index: int) -> None:
    case = vectors()["negative_vectors"][index]
    with pytest.raises(CardRejected) as caught:
        decode(case["bits"], fmts(*DEFAULT))
    why = case["why"]
    if "wrong length" in why:
        assert caught.value.result == "unknown_format"
        assert f"{len(case['bits'])} bits" in caught.value.reason
    else:
        assert caught.value.result == "parity_error"
        # "first (even) parity bit" is bit 0; "trailing (odd)" is bit 25 of a 26-bit frame.
        bit = "bit 0 " if "first" in why else "bit 25 "
        kind = "even" if "even" in why else "odd"
        assert bit in caught.value.reason and kind in caught.value.reason


def test_raw_takes_any_length_only_when_allowed() -> None:
    bits = "1" * 25
    with pytest.raises(CardRejected):
        decode(bits, fmts(*DEFAULT))
    card = decode(bits, fmts(*DEFAULT), allow_raw=True)
    assert (card.format, card.card_number, card.facility_code) == ("raw", 2**25 - 1, None)


def test_37_bit_frames_go_to_the_first_configured_format() -> None:
    bits = "0000000000000000000000000110010000110"  # H10302 card 1603 from the derived vectors
    assert decode(bits, fmts("H10302", "H10304")).card_number == 1603
    assert decode(bits, fmts("H10304", "H10302")).format == "H10304"


@st.composite
def format_and_fields(draw: st.DrawFn, names: list[str]) -> tuple[WiegandFormat, dict[str, int]]:
    fmt = all_formats()[draw(st.sampled_from(names))]
    fields = {name: draw(st.integers(0, (1 << length) - 1)) for name, (_, length) in fmt.fields.items()}
    return fmt, fields


@given(format_and_fields(list(all_formats())))
def test_encode_then_decode_gives_the_fields_back(case: tuple[WiegandFormat, dict[str, int]]) -> None:
    fmt, fields = case
    bits = fmt.encode(fields)
    assert len(bits) == fmt.bits
    card = decode(bits, [fmt])
    assert card.card_number == fields["card_number"]
    assert card.facility_code == fields.get("facility_code")
    # what a parity-stripping converter passes on rebuilds the same frame
    assert fmt.from_data_bits(fmt.data_value(bits)) == bits


@given(format_and_fields(WITH_PARITY), st.data())
def test_a_single_flipped_bit_is_always_caught(case: tuple[WiegandFormat, dict[str, int]], data: st.DataObject) -> None:
    fmt, fields = case
    bits = fmt.encode(fields)
    pos = data.draw(st.integers(0, fmt.bits - 1))
    flipped = bits[:pos] + ("1" if bits[pos] == "0" else "0") + bits[pos + 1 :]
    with pytest.raises(CardRejected) as caught:
        decode(flipped, [fmt])
    assert caught.value.result == "parity_error"


def test_encoding_matches_the_h10301_layout_worked_by_hand() -> None:
    # FC 90 = 01011010, CN 324 = 0000000101000100. Bits 1-12 (010110100000) hold 4 ones: even
    # parity bit 0 is 0. Bits 13-24 (000101000100) hold 3 ones: odd parity bit 25 is 0.
    assert (
        all_formats()["H10301"].encode({"facility_code": 90, "card_number": 324})
        == "0" + "01011010" + "0000000101000100" + "0"
    )
