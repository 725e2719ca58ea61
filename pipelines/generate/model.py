"""The behavioural model behind the synthetic outcomes: school and partnership-group
"inclusion quality", and which groups improve.

Every school has an inclusion quality Q (in standard-deviation units) for each year:

    Q = school effect + group effect + improvement

- school effect ~ N(0, SCHOOL_SD), drawn per school;
- group effect: the groups of an LA get effects evenly spread over
  [-GROUP_SPREAD, +GROUP_SPREAD] (in a seeded random order), so groups genuinely differ
  even in an LA with two groups;
- improvement: groups are sorted by group_id within their LA; the 1st, 3rd, 5th, ...
  are "improving" and gain IMPROVEMENT_PER_YEAR of quality every year after the first
  generated year; the others are "steady". E.g. in the demo LA 806, group 806-01 improves
  and 806-02 stays steady. The manifest lists every group's effect and trajectory.

Q moves the outcomes that the real calibration files do not pin down: pupil voice,
family confidence, plan reviews and targets met, time spent in an inclusion base, early
identification, unexplained leaving and sustained destinations. Absence, persistent absence
and suspensions are pinned per school to the real figures, so only the *improvement* part of
Q moves them (an improving group's SEN pupils miss fewer sessions and are suspended less
each year), which keeps the first generated year calibrated.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

SCHOOL_SD = 0.45
GROUP_SPREAD = 0.45
IMPROVEMENT_PER_YEAR = 0.45

Trajectory = Literal["improving", "steady"]


@dataclass(frozen=True)
class GroupModel:
    group_id: str
    effect: float
    trajectory: Trajectory

    def improvement(self, year_index: int) -> float:
        """Quality gained by year_index (0 = first generated year)."""
        return IMPROVEMENT_PER_YEAR * year_index if self.trajectory == "improving" else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "effect": round(self.effect, 4),
            "trajectory": self.trajectory,
            "improvement_per_year": IMPROVEMENT_PER_YEAR if self.trajectory == "improving" else 0,
        }


NO_GROUP = GroupModel("", 0.0, "steady")


def group_models(la_code: str, group_ids: list[str], seed: int) -> dict[str, GroupModel]:
    """Effects and trajectories for one LA's groups (deterministic for the seed)."""
    ordered = sorted(set(group_ids))
    rng = np.random.default_rng([seed, zlib.crc32(la_code.encode()), 7])
    spread = np.linspace(-GROUP_SPREAD, GROUP_SPREAD, len(ordered)) if len(ordered) > 1 else [0.0]
    effects = rng.permutation(np.asarray(spread, dtype=np.float64))
    return {
        gid: GroupModel(gid, float(effects[i]), "improving" if i % 2 == 0 else "steady")
        for i, gid in enumerate(ordered)
    }
