"""Automation: the sensors and schedules (the jobs they run are in jobs.py)."""

from __future__ import annotations

import dagster as dg

from pipelines.automation.schedules import build_schedules
from pipelines.automation.sensors import SENSORS

defs = dg.Definitions(sensors=list(SENSORS), schedules=build_schedules())
