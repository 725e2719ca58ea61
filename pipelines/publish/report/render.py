"""Render the report pages with jinja2, autoescaping everything that came from data."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> jinja2.Environment:
    # autoescape=True for every template: school and group names are input text.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sentence"] = sentence
    return env


def sentence(text: str) -> str:
    """Catalogue phrases ('the share of ...') as a sentence: capital first, full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def render(template: str, **context: Any) -> str:
    css = (TEMPLATES / "style.css").read_text(encoding="utf-8")
    return environment().get_template(template).render(css=Markup(css), **context)
