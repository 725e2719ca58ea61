"""The vectorised UPN check letter agrees with python-stdnum; pseudonyms are HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.gb.upn import calc_check_digit

from pipelines.ingest.pseudonym import Pseudonymiser
from pipelines.ingest.upn import ALPHABET, valid_upns


def checked(values: list[str | None]) -> list[bool | None]:
    return valid_upns(pl.LazyFrame({"v": values}, schema={"v": pl.String}), "v").collect()[
        "v"].to_list()


def by_stdnum(value: str | None) -> bool | None:
    """The contract's rule in plain Python: trimmed and upper-cased, a letter (not I, O,
    S), eleven digits, a letter or digit, and the check letter stdnum computes."""
    if value is None:
        return None
    upn = value.strip().upper()
    shaped = (len(upn) == 13 and upn[0] in ALPHABET[:23] and upn[1:12].isascii()
              and upn[1:12].isdigit() and upn[12] in ALPHABET)
    return shaped and calc_check_digit(upn[1:]) == upn[0]


bodies = st.tuples(
    st.text("0123456789", min_size=11, max_size=11),
    st.sampled_from(ALPHABET),
).map(lambda parts: parts[0] + parts[1])


@settings(max_examples=200, deadline=None)
@given(body=bodies, other=st.sampled_from(ALPHABET[:23]))
def test_check_letter_matches_stdnum(body: str, other: str) -> None:
    right = calc_check_digit(body) + body
    wrong = other + body
    assert checked([right, wrong, right.lower(), None]) == [True, other == right[0], True, None]


near_upns = st.one_of(
    st.none(),
    st.text(alphabet=ALPHABET + "ISOabcz ±٣-", max_size=15),  # shapes, cases, non-ASCII digits
    bodies.map(lambda body: calc_check_digit(body) + body),
    st.tuples(bodies, st.sampled_from(ALPHABET), st.sampled_from(["", " ", "  "])).map(
        lambda parts: parts[2] + parts[1] + parts[0].lower() + parts[2]),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(near_upns, max_size=20))
def test_any_text_is_judged_as_stdnum_judges_it(values: list[str | None]) -> None:
    assert checked(values) == [by_stdnum(v) for v in values]


def test_la_numbers_outside_stdnum_list_are_accepted() -> None:
    body = "94024" + "0000001"  # LA 940 (North Northamptonshire, 2021)
    upn = calc_check_digit(body) + body
    assert checked([upn]) == [True]


def test_pseudonym_is_hmac_sha256_of_normalised_upn() -> None:
    key = "a-key"
    upn = "A123456789012"
    expected = hmac.new(key.encode(), upn.encode(), hashlib.sha256).hexdigest()
    pseudonymiser = Pseudonymiser(key)
    got = pseudonymiser.series(pl.Series([upn, f" {upn.lower()} ", None])).to_list()
    assert got == [expected, expected, None]
    assert "a-key" not in repr(pseudonymiser)
    long_key = "k" * 100  # longer than the SHA-256 block: hashed first, as HMAC does
    assert Pseudonymiser(long_key).one(upn) == hmac.new(
        long_key.encode(), upn.encode(), hashlib.sha256).hexdigest()
