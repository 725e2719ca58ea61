"""The vectorised UPN check letter agrees with python-stdnum; pseudonyms are HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.gb.upn import calc_check_digit

from pipelines.ingest.pseudonym import Pseudonymiser
from pipelines.ingest.upn import ALPHABET, valid_upn

bodies = st.tuples(
    st.text("0123456789", min_size=11, max_size=11),
    st.sampled_from(ALPHABET),
).map(lambda parts: parts[0] + parts[1])


@settings(max_examples=200, deadline=None)
@given(body=bodies, other=st.sampled_from(ALPHABET[:23]))
def test_check_letter_matches_stdnum(body: str, other: str) -> None:
    right = calc_check_digit(body) + body
    wrong = other + body
    result = pl.select(valid_upn(pl.Series([right, wrong, right.lower(), None]))).to_series()
    assert result.to_list() == [True, other == right[0], True, None]


def test_la_numbers_outside_stdnum_list_are_accepted() -> None:
    body = "94024" + "0000001"  # LA 940 (North Northamptonshire, 2021)
    upn = calc_check_digit(body) + body
    assert pl.select(valid_upn(pl.lit(upn))).item()


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
