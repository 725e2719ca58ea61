"""How much validation history the audit keeps (results store, Data Docs, gx_results), so
the Data Docs site does not slow down as runs pile up."""

KEEP_RUNS = 10
