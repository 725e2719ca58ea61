"""The school register: which URNs exist, their local authority, phase and district."""

from __future__ import annotations

MAINSTREAM_PHASES = ["State-funded primary", "State-funded secondary", "State-funded nursery"]
