"""When a suite need not run again: a fingerprint of everything it reads.

A suite's result can only change if its expectations change or the rows they read change.
Its fingerprint is a SHA-256 of:

- the suite document GX runs (`expectations/expectations/<suite>.json`), and the GX and
  DuckDB versions (a new version may evaluate a rule differently, or hash differently);
- for every table the suite reads — its own table, every table named in its SQL rules,
  and the base tables behind any audit view it reads — its column names and types, and
  the row count and the sum of the rows' hashes over the slice the suite reads
  (`SuiteSpec.narrow`) or the whole table. (DuckDB's row hash ignores column names and
  integer widths, so the schema is fingerprinted on its own: a renamed column must make
  the suite run again.)

A resubmission of one school's outcomes changes the outcome tables but not the voice,
spend or allocation ones, so the audit re-validates the former and carries the latter's
results forward, saying so ("validated in run X at T; its data and rules are unchanged
since"). Fingerprinting every table at `la` scale takes about 0.2 s; validating the
unchanged suites again took seconds.

The row hashes are DuckDB's 64-bit `hash` of the whole row, summed (order does not
matter to any expectation, and must not matter here). A change that leaves both the count
and the sum unchanged would need two rows to change in exactly compensating ways.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from pipelines.audit.suite_specs import SuiteSpec
from pipelines.audit.warehouse_objects import OBJECT_INPUTS

# A schema-qualified name in a rule's SQL. Every warehouse schema the rules may read.
_QUALIFIED = re.compile(
    r"\b(raw|staging|intermediate|marts|indicators|ref|audit)\.([a-z_][a-z0-9_]*)\b")


class UnknownInput(ValueError):
    """A suite reads a view whose base tables this module does not know."""


def suite_inputs(spec: SuiteSpec) -> list[str]:
    """The base tables a suite reads: its own, those its rules name, and the base tables
    of the audit views they name (recursively)."""
    named = {spec.qualified_table} | {
        m.group(0) for m in _QUALIFIED.finditer(json.dumps(spec.expectations))}
    tables: set[str] = set()
    pending = sorted(named)
    while pending:
        name = pending.pop()
        if name in tables:
            continue
        if name in OBJECT_INPUTS:  # an audit view or table built from other tables
            pending.extend(OBJECT_INPUTS[name])
            continue
        if name.startswith("audit.v_"):
            raise UnknownInput(
                f"suite {spec.name} reads the view {name}, whose inputs are not listed in "
                "warehouse_objects.OBJECT_INPUTS")
        tables.add(name)
    return sorted(tables)


@dataclass(frozen=True)
class TableFingerprint:
    table: str
    where: str
    columns: str
    rows: int
    row_hash_sum: str


def table_fingerprint(conn: duckdb.DuckDBPyConnection, table: str,
                      where: str | None) -> TableFingerprint:
    condition = where or "TRUE"
    columns = "; ".join(f"{name} {kind}" for name, kind, *_ in
                        conn.execute(f"DESCRIBE {table}").fetchall())
    rows = conn.execute(
        f"SELECT count(*), coalesce(sum(hash(t)), 0)::VARCHAR FROM {table} AS t "
        f"WHERE {condition}").fetchall()
    count, total = rows[0]
    return TableFingerprint(table, condition, columns, int(count), str(total))


def fingerprints(conn: duckdb.DuckDBPyConnection, specs: Iterable[SuiteSpec],
                 suite_documents: dict[str, str], versions: str,
                 present: set[str]) -> dict[str, str]:
    """{suite: fingerprint} for every suite whose inputs all exist.

    `suite_documents` maps each suite to the text of the document GX will run; a table
    read by several suites (with the same slice) is hashed once.
    """
    cache: dict[tuple[str, str | None], TableFingerprint] = {}
    result: dict[str, str] = {}
    for spec in specs:
        inputs = suite_inputs(spec)
        if spec.name not in suite_documents or any(t not in present for t in inputs):
            continue
        parts = [versions, suite_documents[spec.name]]
        for table in inputs:
            key = (table, spec.narrow.get(table))
            if key not in cache:
                cache[key] = table_fingerprint(conn, *key)
            fp = cache[key]
            parts.append(f"{fp.table}|{fp.where}|{fp.columns}|{fp.rows}|{fp.row_hash_sum}")
        result[spec.name] = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return result
