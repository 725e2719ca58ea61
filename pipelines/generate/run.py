"""The generator's driver: one LA at a time, one academic year at a time."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from pipelines.generate import frames, model, params, population, spend, structure, voice
from pipelines.generate import outcomes as outcome_model
from pipelines.generate.academic import file_label, label, start_years
from pipelines.generate.faults import FaultInjector
from pipelines.generate.files import BASE_MTIME, SOURCES, LandingWriter
from pipelines.generate.reference import Reference, load_reference
from pipelines.generate.row_faults import Context
from pipelines.generate.special_files import MIN_SCHOOLS, SpecialFiles

Scale = Literal["demo", "la", "national"]
DEMO_LA = "806"
# Separate random streams per purpose, so that e.g. turning faults on does not change the
# clean rows, and one LA's data do not depend on which other LAs are generated.
_STREAM = {"structure": 1, "params": 2, "roll": 3, "year": 4, "voice": 5, "spend": 6,
           "faults": 7, "style": 8}


@dataclass
class RunState:
    seed: int
    writer: LandingWriter
    injector: FaultInjector | None
    unknown_urns: tuple[int, ...]
    counts: dict[str, Any] = field(default_factory=lambda: {
        "rows": dict.fromkeys(SOURCES, 0), "pupils": {}, "respondents": {}, "schools": 0})
    groups: dict[str, dict[str, object]] = field(default_factory=dict)
    special_la: str | None = None  # where the file-level faults go


def _rng(state: RunState, la_code: str, stream: str, *extra: int) -> np.random.Generator:
    return np.random.default_rng([state.seed, int(la_code), _STREAM[stream], *extra])


def _la_codes(ref: Reference, scale: Scale, la_code: str | None) -> list[str]:
    if scale == "demo":
        return [DEMO_LA]
    if scale == "la":
        if la_code is None or la_code not in ref.la_codes():
            raise ValueError(f"scale 'la' needs --la with a 3-digit LA code in the register "
                             f"(got {la_code!r})")
        return [la_code]
    if scale == "national":
        return ref.la_codes()
    raise ValueError(f"unknown scale {scale!r}")


def _unknown_urns(ref: Reference) -> tuple[int, ...]:
    free = [u for u in range(999_999, 990_000, -1) if u not in ref.register_urns]
    return tuple(free[:25])


def generate(out: Path, scale: Scale = "demo", la_code: str | None = None, years: int = 3,
             seed: int = 42, fault_rate: float = 0.0,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write synthetic landing files for the scale into out/ and return the manifest."""
    out = Path(out)
    ref = load_reference()
    las = _la_codes(ref, scale, la_code)
    starts = start_years(years)
    state = RunState(seed=seed, writer=LandingWriter(out),
                     injector=FaultInjector(fault_rate) if fault_rate > 0 else None,
                     unknown_urns=_unknown_urns(ref))
    if fault_rate > 0:
        # File-level faults need a few distinct schools: the first LA that has them.
        active = ref.schools.filter(pl.col("headcount") > 0).group_by("la_code").len()
        big = active.filter(pl.col("len") >= MIN_SCHOOLS)["la_code"].to_list()
        state.special_la = next((c for c in las if c in big), None)
    for i, code in enumerate(las):
        schools = ref.la_schools(code)
        if progress is not None:
            progress(f"LA {code} {schools['la_name'][0]}: {i + 1}/{len(las)}")
        _generate_la(state, ref, code, schools, starts)
    manifest = _manifest(state, scale, la_code, years, seed, fault_rate, starts)
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    mtime = BASE_MTIME + len(state.writer.files)
    os.utime(path, (mtime, mtime))
    return manifest


def _generate_la(state: RunState, ref: Reference, code: str, schools: pl.DataFrame,
                 starts: list[int]) -> None:
    struct = structure.build(schools, _rng(state, code, "structure"))
    la = params.build(schools, struct, _rng(state, code, "params"))
    la_groups = ref.groups.filter(pl.col("la_code") == code)["group_id"].to_list()
    models = model.group_models(code, la_groups, state.seed)
    state.groups.update({g: m.as_dict() for g, m in models.items()})
    alloc = population.UpnAllocator(int(code), struct)
    roll = population.initial_roll(_rng(state, code, "roll"), struct, alloc, starts[0])
    urns = struct.urn.tolist()
    active = np.flatnonzero(struct.entry >= 0)
    state.counts["schools"] += int(active.size)
    for index, start in enumerate(starts):
        yl = label(start)
        group_ids = ref.group_of(urns, yl)
        groups = [models.get(g or "", model.NO_GROUP) for g in group_ids]
        yr = params.year(la, groups, group_ids, start, index, _rng(state, code, "year", start))
        rng = _rng(state, code, "year", start, 1)
        result = outcome_model.simulate(rng, roll, la, yr)
        state.counts["pupils"][yl] = state.counts["pupils"].get(yl, 0) + len(roll)
        special = (SpecialFiles.choose(_rng(state, code, "faults", start, 1), struct, active)
                   if code == state.special_la and index == len(starts) - 1
                   else None)
        _write_year(state, ref, code, la, struct, yr, roll, result, active, groups, special)
        roll = population.next_roll(rng, roll, result.left, result.end_of_phase, struct, alloc,
                                    start + 1)


def _write_year(state: RunState, ref: Reference, code: str, la: params.LaParams,
                struct: structure.Structure, yr: params.YearParams, roll: population.Roll,
                result: outcome_model.Outcomes, active: np.ndarray,
                groups: list[model.GroupModel], special: SpecialFiles | None) -> None:
    yl, start = label(yr.start), yr.start
    style_rng = _rng(state, code, "style", start)
    bool_style = frames.BOOL_STYLES[int(style_rng.choice(4, p=[0.4, 0.2, 0.2, 0.2]))]
    date_style = frames.DATE_STYLES[int(style_rng.choice(2, p=[0.7, 0.3]))]
    n_k = np.bincount(roll["school"][result.sen == 1], minlength=struct.n)
    n_e = np.bincount(roll["school"][result.sen == 2], minlength=struct.n)
    pupils = np.bincount(roll["school"], minlength=struct.n)
    srng = _rng(state, code, "spend", start)
    alloc = spend.allocations_pence(srng, pupils, n_k, n_e)
    improving = [g.trajectory == "improving" for g in groups]
    typed = {
        "spend": spend.spend_lines(srng, la, yr, improving, alloc, active, ref.categories, yl),
        "allocations": spend.allocation_frame(la, active, alloc, yl),
        "outcomes": frames.outcome_frame(roll, result, struct, yl),
        "voice": voice.generate(_rng(state, code, "voice", start), roll, result, yr, struct,
                                ref.questions, yl),
    }
    state.counts["respondents"][yl] = state.counts["respondents"].get(yl, 0) + int(
        typed["voice"]["respondent_id"].n_unique())
    for source in SOURCES:
        frame = typed[source]
        rel = f"{source}/{code}_{file_label(start)}_{source}.csv"
        split = special.split(source, frame) if special is not None else {}
        main = frame.filter(~pl.col("urn").is_in(list(split))) if split else frame
        text = frames.as_text(main, bool_style, date_style)
        if state.injector is not None:
            ctx = Context(source=source, start=start, bool_style=bool_style,
                          date_style=date_style, unknown_urns=state.unknown_urns,
                          pupil_upns=tuple(typed["outcomes"]["upn"].head(500).to_list()))
            protect = (special.protected(source, text) if special is not None
                       else np.zeros(text.height, dtype=np.bool_))
            text = state.injector.rows(_rng(state, code, "faults", start), text, rel, ctx,
                                       protect)
        state.writer.csv(rel, text, la_code=code, academic_year=yl)
        state.counts["rows"][source] += text.height
        if special is not None and state.injector is not None:
            special.write(source, state.writer, state.injector, code, start, main, split,
                          bool_style, date_style, rel)


def _manifest(state: RunState, scale: Scale, la_code: str | None, years: int, seed: int,
              fault_rate: float, starts: list[int]) -> dict[str, Any]:
    records = state.injector.records if state.injector is not None else []
    by_kind: dict[str, int] = {}
    for r in records:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
    counts = dict(state.counts, files=len(state.writer.files), faults=by_kind)
    return {
        "generator": "pipelines.generate",
        "parameters": {"scale": scale, "la_code": la_code, "years": years, "seed": seed,
                       "fault_rate": fault_rate, "academic_years": [label(s) for s in starts]},
        "model": {"groups": state.groups,
                  "note": "see pipelines/generate/model.py: Q = school + group effect + "
                          "improvement; improving groups gain quality every year"},
        "files": state.writer.files,
        "faults": records,
        "counts": counts,
    }
