"""The auditor's bundle: everything needed to check the published numbers, in one folder.

Written whole or not at all through `atomic_folder(publish_dir, "audit")`:

    audit/index.html                 what was checked and whether it passed, one line each
    audit/data_docs/                 the Great Expectations Data Docs (last N runs)
    audit/submission_log.csv         every file received, loaded or refused (with reason)
    audit/quarantine.csv             every rejected row, one line per broken rule
    audit/quarantine_rows.csv        the rejected rows as read (UPNs pseudonymised)
    audit/reconciliation.csv         per submission: rows read = loaded + quarantined
    audit/spend_reconciliation.csv   per school and year: spend staged = lines loaded
    audit/suppression.csv            why each suppressed cell was suppressed
    audit/lineage.parquet (+ .csv)   every published cell -> the submissions behind it
    audit/gx_results.csv             this run's expectation results

Everything is read from the warehouse (read-only); nothing in the index is trusted as
HTML: Jinja2 autoescaping escapes all values that came from input files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import jinja2

from pipelines.audit.warehouse_objects import existing_tables
from pipelines.publish.atomic import atomic_folder, finished_version
from pipelines.resources.warehouse import Warehouse, first_row, writer_lock

# Row files larger than this are written as Parquet only (a CSV of millions of lineage
# rows helps nobody; the Parquet opens in any analysis tool).
CSV_ROW_LIMIT = 1_000_000


@dataclass(frozen=True)
class BundleFile:
    name: str
    title: str
    explains: str
    table: str
    query: str
    rows: int | None = None
    note: str = ""


FILES = [
    BundleFile("submission_log", "Submission log",
               "Every file received: when, from where, loaded or refused and why, rows read, "
               "loaded and quarantined.",
               "audit.submission_log",
               "SELECT * REPLACE (array_to_string(extra_columns, '; ') AS extra_columns) "
               "FROM audit.submission_log ORDER BY source, received_at, file_name"),
    BundleFile("quarantine", "Quarantine (reasons)",
               "Every row that was not loaded, one line per rule it broke: column, rule and "
               "offending value (pupil numbers are pseudonymised).",
               "audit.quarantine",
               "SELECT q.*, l.file_name FROM audit.quarantine q "
               "LEFT JOIN audit.submission_log l USING (submission_id) "
               "ORDER BY q.source, l.file_name, q.row_number, q.column_name"),
    BundleFile("quarantine_rows", "Quarantined rows",
               "The quarantined rows as read, so nothing received is lost.",
               "audit.quarantine_rows",
               "SELECT * FROM audit.quarantine_rows ORDER BY source, submission_id, row_number"),
    BundleFile("reconciliation", "Reconciliation of rows",
               "Per submission: rows read = rows loaded + rows quarantined, and the warehouse "
               "holds exactly those rows (balanced = true).",
               "audit.v_submission_reconciliation",
               "SELECT * FROM audit.v_submission_reconciliation ORDER BY source, file_name"),
    BundleFile("spend_reconciliation", "Reconciliation of spend",
               "Per school and year: the spend used equals the sum of the spend lines loaded "
               "from its current submissions.",
               "audit.v_spend_reconciliation",
               "SELECT * FROM audit.v_spend_reconciliation ORDER BY urn, academic_year"),
    BundleFile("suppression", "Suppression record",
               "Why each suppressed cell (shown as c) was suppressed. Not for publication.",
               "audit.suppression",
               "SELECT * FROM audit.suppression ORDER BY ALL"),
    BundleFile("lineage", "Lineage of published cells",
               "For every published cell (indicator, level, area, year, SEN breakdown): the "
               "submissions whose rows it was computed from, and how many rows each gave. "
               "A cell with no submission listed was computed from no rows.",
               "audit.lineage",
               "SELECT * FROM audit.lineage ORDER BY ALL"),
]

INDEX = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Audit bundle: Inclusive Mainstream Fund outcomes</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#0b0c0c}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;
border-bottom:1px solid #b1b4b6;vertical-align:top}
.pass{color:#00703c}.fail{color:#d4351c;font-weight:bold}.warn{color:#8a4b00}
.banner{padding:1rem;border:4px solid}.banner.ok{border-color:#00703c}
.banner.blocked{border-color:#d4351c}
</style></head>
<body>
<h1>Audit bundle</h1>
<p>Built {{ built }} from the warehouse by the audit step. Great Expectations run
<strong>{{ run_name }}</strong> at {{ run_time }}. This folder is for auditors, not for
publication.</p>
{% if blocked %}
<p class="banner blocked"><strong>Publishing was blocked:</strong> {{ critical_failures }}
critical check(s) failed. The published tables were not updated from this data.</p>
{% else %}
<p class="banner ok"><strong>All critical checks passed.</strong>
{{ warning_failures }} warning(s) to look at; warnings do not block publishing.</p>
{% endif %}

<h2>What is in this folder</h2>
<ul>
<li><a href="data_docs/index.html">Validation reports (Great Expectations Data Docs)</a>:
every check with its result and, for failures, example rows. The last {{ keep_runs }} runs
are kept.</li>
{% for f in files %}<li>{% if f.available %}<a href="{{ f.href }}">{{ f.title }}</a>
({{ f.rows }} rows{% if f.parquet %}; also <a href="{{ f.parquet }}">Parquet</a>{% endif %})
{% else %}{{ f.title }}: <em>not available — {{ f.note }}</em>{% endif %}:
{{ f.explains }}</li>
{% endfor %}
</ul>

<h2>Rows received, loaded and quarantined</h2>
<p>{{ reconciliation }}</p>

{% if refused %}<h3>Files refused whole</h3>
<table><thead><tr><th scope="col">Source</th><th scope="col">File</th>
<th scope="col">Why</th></tr></thead><tbody>
{% for r in refused %}<tr><td>{{ r[0] }}</td><td>{{ r[1] }}</td><td>{{ r[2] }}</td></tr>
{% endfor %}</tbody></table>{% endif %}

<h2>Checks, one line each</h2>
<p>Critical checks block publishing when they fail; warnings are shown here for a person
to look at. Each table's checks link to its page in the validation reports.</p>
{% for s in suites %}
<h3>{{ s.name }} <small>({{ s.table }})</small></h3>
<p>{{ s.purpose }}
{% if s.page %}<a href="data_docs/{{ s.page }}">Validation report for this table</a>.{% endif %}
</p>
{% if s.status == 'not_run' %}<p class="warn">Not run: {{ s.note }}</p>{% else %}
{% if s.carried_from %}<p>Not re-run: these are the results of validation
{{ s.carried_from }}. Neither this table's checks nor any row they read have changed
since (compared by fingerprint), so the results still hold.</p>{% endif %}
<table><thead><tr><th scope="col">Result</th><th scope="col">Check</th>
<th scope="col">Severity</th><th scope="col">Found</th></tr></thead><tbody>
{% for o in s.outcomes %}<tr>
<td class="{{ 'pass' if o.success else ('fail' if o.severity == 'critical' else 'warn') }}">
{{ 'Passed' if o.success else 'Failed' }}</td>
<td>{{ o.description }}{% if o.column %} (<code>{{ o.column }}</code>){% endif %}
{% if o.error %}<br><small>Could not be evaluated: {{ o.error }}</small>{% endif %}</td>
<td>{{ o.severity }}</td><td>{{ o.observed }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
{% endfor %}
</body></html>
""")


def _sql_path(path: Path) -> str:
    """A file path as a SQL string literal (COPY takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def _latest_results(conn: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if "audit.gx_results" not in existing_tables(conn):
        return {"run_name": "(none)", "run_time": "(never)"}, []
    cur = conn.execute(
        """SELECT * FROM audit.gx_results
           WHERE run_time = (SELECT max(run_time) FROM audit.gx_results)""")
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    head = rows[0] if rows else {"run_name": "(none)", "run_time": "(never)"}
    return {"run_name": head["run_name"], "run_time": head["run_time"]}, rows


def _suites(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    suites: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = suites.setdefault(r["suite"], {
            "name": r["suite"], "table": r["table_name"], "status": r["suite_status"],
            "page": None, "outcomes": [], "note": "", "purpose": "",
            "carried_from": None})
        if r["expectation_type"] is None:
            s["note"] = r["description"]
            continue
        s["page"] = s["page"] or r["data_docs_page"]
        if r.get("validated_in_run") not in (None, r["run_name"]):
            at = r["validated_at"]
            when = at.astimezone(UTC).strftime("%-d %B %Y at %H:%M UTC") \
                if isinstance(at, datetime) else str(at)
            s["carried_from"] = f"{r['validated_in_run']} of {when}"
        s["outcomes"].append({
            "success": r["success"], "severity": r["severity"], "description": r["description"],
            "column": r["column_name"], "observed": r["observed"] or "", "error": r["error"]})
    return list(suites.values())


def write_bundle(warehouse_path: Path | str, publish_dir: Path | str,
                 data_docs_src: Path | str, keep_runs: int = 10, switch: bool = True) -> Path:
    """Build the bundle; return the path `publish_dir/audit`, which now points at it. With
    `switch=False`, leave `audit` as it is and return the bundle's version folder: the
    public step switches to it just before the public outputs (see publish/atomic.py)."""
    from pipelines.audit.suite_specs import all_suites

    publish_dir = Path(publish_dir)
    data_docs_src = Path(data_docs_src)
    purposes = {s.name: s.purpose for s in all_suites()}
    warehouse = Warehouse(path=str(warehouse_path))
    # The writer lock keeps other processes from writing while the bundle is read, so its
    # files describe one state of the warehouse.
    with writer_lock(Path(warehouse.path)), warehouse.connect(read_only=True) as conn, \
            atomic_folder(publish_dir, "audit", switch=switch) as out:
        version = finished_version(out)
        present = existing_tables(conn)
        if data_docs_src.exists():
            shutil.copytree(data_docs_src, out / "data_docs")
        else:
            (out / "data_docs").mkdir()
            (out / "data_docs" / "index.html").write_text(
                "<!doctype html><title>No validation yet</title>"
                "<p>The validation step has not run yet.</p>", encoding="utf-8")
        files = []
        for f in FILES:
            entry: dict[str, Any] = {"title": f.title, "explains": f.explains,
                                     "available": f.table in present, "note": "",
                                     "href": None, "parquet": None, "rows": 0}
            if not entry["available"]:
                entry["note"] = f"{f.table} does not exist in the warehouse yet"
                files.append(entry)
                continue
            rows = first_row(conn, f"SELECT count(*) FROM ({f.query})")
            entry["rows"] = rows[0] if rows else 0
            if f.name == "lineage" or entry["rows"] > CSV_ROW_LIMIT:
                parquet = out / f"{f.name}.parquet"
                conn.execute(f"COPY ({f.query}) TO {_sql_path(parquet)} (FORMAT parquet)")
                entry["parquet"] = parquet.name
            if entry["rows"] <= CSV_ROW_LIMIT:
                csv = out / f"{f.name}.csv"
                conn.execute(f"COPY ({f.query}) TO {_sql_path(csv)} (FORMAT csv, HEADER)")
                entry["href"] = csv.name
            else:
                entry["href"] = entry["parquet"]
            files.append(entry)
        run, results = _latest_results(conn)
        if results:
            conn.execute(
                """COPY (SELECT * FROM audit.gx_results
                         WHERE run_time = (SELECT max(run_time) FROM audit.gx_results))
                   TO """ + _sql_path(out / "gx_results.csv") + " (FORMAT csv, HEADER)")
        reconciliation = "The reconciliation view is not available yet."
        if "audit.v_submission_reconciliation" in present:
            counts = first_row(
                conn,
                """SELECT count(*) FILTER (WHERE status = 'loaded'),
                          count(*) FILTER (WHERE status = 'loaded' AND balanced),
                          count(*) FILTER (WHERE status <> 'loaded'),
                          coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),
                          coalesce(sum(rows_quarantined), 0)
                   FROM audit.v_submission_reconciliation""")
            assert counts is not None
            loaded, balanced, n_refused, read, loaded_rows, quarantined = counts
            reconciliation = (
                f"{loaded} submissions loaded, of which {balanced} balance "
                f"(rows read = rows loaded + rows quarantined, all accounted for in the "
                f"warehouse); {n_refused} files refused whole. In total {read} rows read, "
                f"{loaded_rows} loaded, {quarantined} quarantined.")
        refused: list[tuple[Any, ...]] = []
        if "audit.submission_log" in present:
            refused = conn.execute(
                "SELECT source, file_name, reason FROM audit.submission_log "
                "WHERE status <> 'loaded' ORDER BY source, file_name").fetchall()
        suites = _suites(results)
        for s in suites:
            s["purpose"] = purposes.get(s["name"], "")
        critical = sum(1 for s in suites for o in s["outcomes"]
                       if not o["success"] and o["severity"] == "critical")
        warnings = sum(1 for s in suites for o in s["outcomes"]
                       if not o["success"] and o["severity"] != "critical")
        (out / "index.html").write_text(INDEX.render(
            built=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            run_name=run["run_name"], run_time=run["run_time"], blocked=critical > 0,
            critical_failures=critical, warning_failures=warnings, files=files,
            reconciliation=reconciliation, suites=suites, keep_runs=keep_runs,
            refused=refused,
        ), encoding="utf-8")
    return publish_dir / "audit" if switch else version
