"""The allocations source: contract.py (its rules) and assets.py (its ingest asset and checks)."""
