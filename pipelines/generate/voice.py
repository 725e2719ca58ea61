"""Pupil and parent/carer survey responses.

Each respondent has a latent score per domain: a domain mean, plus the school's inclusion
quality, minus an SEN gap (which narrows in improving groups), plus person-level and
domain-level noise. Each item adds its own noise and is cut into a 1-5 response;
reverse-scored items are answered the other way round (6 - response), so a child who
belongs answers "I often feel left out" with a low number. Items are skipped at random.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipelines.generate.academic import Y3, YEAR_GROUPS, day_number
from pipelines.generate.model import IMPROVEMENT_PER_YEAR
from pipelines.generate.outcomes import Outcomes
from pipelines.generate.params import YearParams
from pipelines.generate.population import Roll
from pipelines.generate.structure import Structure

DOMAIN_MEAN = {"belonging": 0.55, "wellbeing": 0.4, "safety": 0.75, "participation": 0.6,
               "voice_heard": 0.2, "family_confidence": 0.35}
# Latent gap for a pupil with an EHC plan (SEN support: 70% of it), before improvement.
SEN_GAP = {"belonging": 0.5, "wellbeing": 0.45, "safety": 0.3, "participation": 0.6,
           "voice_heard": 0.3, "family_confidence": 0.55}
CUTS = np.array([-1.9, -1.0, -0.1, 0.9])
PUPIL_RESPONSE_RATE = 0.35
PARENT_RESPONSE_RATE = np.array([0.12, 0.2, 0.3])  # parents of N, K, E pupils
SKIP_RATE = 0.04
_ID_CHARS = np.frombuffer(b"abcdefghijkmnpqrstuvwxyz23456789", dtype=np.uint8)
_ID_LEN = 10  # 10 characters: a UPN has 13, so an id can never look like one
COLUMNS = ("urn", "academic_year", "respondent_id", "respondent_type", "sen_provision",
           "year_group", "question_code", "response", "collected_on")


def respondent_ids(rng: np.random.Generator, n: int) -> pl.Series:
    """Random anonymous ids (lowercase letters and digits, no look-alike characters)."""
    chars = _ID_CHARS[rng.integers(0, _ID_CHARS.size, (n, _ID_LEN))]
    return pl.Series("respondent_id", chars.view(f"S{_ID_LEN}").ravel()).cast(pl.String)


def _survey_days(rng: np.random.Generator, school: NDArray[np.int64], n_schools: int,
                 start: int) -> NDArray[np.int64]:
    """Each school runs a two-week survey window in the spring or summer term."""
    first = day_number(dt.date(start + 1, 2, 1))
    last = day_number(dt.date(start + 1, 6, 20))
    window = rng.integers(first, last, n_schools)
    day = window[school] + rng.integers(0, 14, school.size)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    return np.asarray(day - (weekday == 5) + (weekday == 6), dtype=np.int64)  # Sat->Fri, Sun->Mon


def _responses(rng: np.random.Generator, theta: NDArray[np.float64],
               reverse: NDArray[np.bool_]) -> NDArray[np.float64]:
    """(respondents, items) latent -> 1..5 with reverse items flipped; NaN = skipped."""
    latent = theta + rng.normal(0, 0.8, theta.shape)
    resp = 1 + (latent[..., None] > CUTS).sum(axis=-1)
    resp = np.where(reverse[None, :], 6 - resp, resp).astype(np.float64)
    resp[rng.random(theta.shape) < SKIP_RATE] = np.nan
    return resp


def _frame(rng: np.random.Generator, urn: NDArray[np.int64], sen: NDArray[np.int64],
           year_group: NDArray[np.int64], day: NDArray[np.int64], resp_type: str,
           questions: pl.DataFrame, responses: NDArray[np.float64], year_label: str
           ) -> pl.DataFrame:
    n, k = responses.shape
    ids = respondent_ids(rng, n)
    rep = np.repeat(np.arange(n), k)
    return pl.DataFrame({
        "urn": urn[rep],
        "academic_year": pl.repeat(year_label, n * k, eager=True),
        "respondent_id": ids.gather(rep),
        "respondent_type": pl.repeat(resp_type, n * k, eager=True),
        "sen_provision": pl.Series(["N", "K", "E"]).gather(sen[rep]),
        "year_group": pl.Series(YEAR_GROUPS).gather(year_group[rep]),
        "question_code": questions["question_code"].gather(np.tile(np.arange(k), n)),
        "response": pl.Series(responses.ravel(), nan_to_null=True).cast(pl.Int64),
        "collected_on": pl.Series(day[rep], dtype=pl.Int32).cast(pl.Date),
    })


def generate(rng: np.random.Generator, roll: Roll, out: Outcomes, yr: YearParams,
             structure: Structure, questions: pl.DataFrame, year_label: str) -> pl.DataFrame:
    """All survey rows for one LA-year, pupils then parents/carers, school by school."""
    s, g, sen = roll["school"], roll["yg"], out.sen
    present = ~out.in_year_leaver
    eff = yr.quality[s]
    # An improving group narrows the SEN gap: by half after two years of improvement.
    gap_scale = np.maximum(0.0, 1 - 0.25 * yr.improvement[s] / IMPROVEMENT_PER_YEAR)
    gap = np.array([0.0, 0.7, 1.0])[sen] * gap_scale
    frames = []
    for resp_type in ("pupil", "parent_carer"):
        qs = questions.filter(pl.col("respondent_type") == resp_type)
        if resp_type == "pupil":
            rate = np.clip(rng.normal(PUPIL_RESPONSE_RATE, 0.1, structure.n), 0.05, 0.9)[s]
            who = np.flatnonzero(present & (g >= Y3) & (rng.random(s.size) < rate))
        else:
            who = np.flatnonzero(present & (rng.random(s.size) < PARENT_RESPONSE_RATE[sen]))
        person = 0.6 * roll["z_voice"][who] if resp_type == "pupil" else rng.normal(0, 0.6,
                                                                                     who.size)
        domains = qs["domain"].to_list()
        theta = np.empty((who.size, len(domains)))
        domain_noise = {d: rng.normal(0, 0.45, who.size) for d in dict.fromkeys(domains)}
        for j, d in enumerate(domains):
            theta[:, j] = (DOMAIN_MEAN[d] + 0.35 * eff[who] - SEN_GAP[d] * gap[who] + person
                           + domain_noise[d])
        responses = _responses(rng, theta, qs["reverse_scored"].to_numpy())
        order = np.lexsort((g[who], s[who]))
        who, responses = who[order], responses[order]
        day = _survey_days(rng, s[who], structure.n, yr.start)
        frames.append(_frame(rng, structure.urn[s[who]], sen[who], g[who], day, resp_type, qs,
                             responses, year_label))
    return pl.concat(frames)
