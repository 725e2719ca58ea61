"""Synthetic landing data for the IMF pipeline: seeded, deterministic, calibrated to real
school-level figures, written exactly as the data contract says (see docs in run.py and
model.py). The CLI `imf generate` calls `generate`.
"""

from pipelines.generate.run import generate

__all__ = ["generate"]
