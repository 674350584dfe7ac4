"""Jinja2, set up once: autoescaping everywhere, strict about missing names."""

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.ui.views import SYMBOL, TONE

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def day(value: date | datetime | str | None) -> str:
    """A date as the contract writes it (`2019-06-10`); a dash for none."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def minute(value: datetime) -> str:
    """A local time to the minute (`2019-06-10 10:15`)."""
    return value.strftime("%Y-%m-%d %H:%M")


def tone(value: str) -> str:
    """The badge colour class of a state or status."""
    return TONE.get(value, "open")


def symbol(value: str) -> str:
    """The badge's shape (shown beside its text label)."""
    return SYMBOL[tone(value)]


ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
ENVIRONMENT.filters.update(day=day, minute=minute, tone=tone, symbol=symbol)


def render(name: str, context: Mapping[str, Any]) -> str:
    """The template `name` rendered with `context`."""
    return ENVIRONMENT.get_template(name).render(context)
