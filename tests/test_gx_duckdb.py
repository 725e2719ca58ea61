"""The DuckDB workaround for Great Expectations (pipelines/resources/gx_duckdb.py) is both
needed and sufficient. When the "needed" test fails after a GX upgrade, upstream has fixed
the bug: delete the module, its call in pipelines/resources/gx.py and this file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.resources import gx as gxr
from pipelines.resources.gx_duckdb import is_patched, without_duckdb_patch

pytestmark = pytest.mark.filterwarnings("ignore:`schema_name` is deprecated")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gxduck") / "tiny.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA staging; CREATE TABLE staging.t AS "
                     "SELECT i AS id, i % 3 AS v FROM range(100) r(i)")
    return path


def _validate(path: Path) -> Any:
    with gxr.disposing_engines():
        context = gxr.gx.get_context(mode="ephemeral")
        # GX builds add_sql's signature at run time; its type stub lacks `kwargs`.
        source = context.data_sources.add_sql(  # type: ignore[call-arg]
            "wh", connection_string=gxr.duckdb_url(path), create_temp_table=False,
            kwargs={"connect_args": {"read_only": True}})
        batch = source.add_table_asset("t", table_name="t", schema_name="staging") \
            .add_batch_definition_whole_table("all").get_batch()
        suite = gxr.gx.ExpectationSuite("tiny")
        suite.add_expectation(gxr.gx.expectations.ExpectColumnValuesToBeUnique(column="id"))
        suite.add_expectation(gxr.gx.expectations.ExpectColumnValuesToBeBetween(
            column="v", min_value=0, max_value=1))
        return batch.validate(suite)


@pytest.fixture
def unpatched() -> Iterator[None]:
    with without_duckdb_patch():
        yield


def test_unpatched_gx_fails_on_duckdb(tiny: Path, unpatched: None) -> None:
    assert not is_patched()
    result = _validate(tiny)
    assert all(not r.success for r in result.results)
    assert "list index out of range" in str([r.exception_info for r in result.results])


def test_patched_gx_gives_correct_results(tiny: Path) -> None:
    assert is_patched()
    unique, between = _validate(tiny).results
    assert unique.success and unique.result["element_count"] == 100
    # v is 0, 1, 2: the 33 rows with v = 2 are outside [0, 1].
    assert not between.success and between.result["unexpected_count"] == 33
    assert between.exception_info.get("raised_exception") in (None, False)


def test_no_connection_outlives_validation(tiny: Path) -> None:
    _validate(tiny)
    # A write connection with another configuration is refused while any connection to
    # the file is still open in this process.
    with duckdb.connect(str(tiny), config={"threads": 1}) as conn:
        assert conn.execute("SELECT count(*) FROM staging.t").fetchone() == (100,)
