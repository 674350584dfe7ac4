"""The state machines as pictures: SVG drawn by Graphviz from the rules tables that enforce them.

`transitions`' `GraphMachine(graph_engine="graphviz")` is built from the
very `VERSION_RULES` and `BOARD_RULES` of `workflow/machines.py` (states by
their value, each state and trigger given the page's words as its label,
guards after the trigger in brackets), the state asked for is marked (a
double, thick outline, a fill and the words "now"/"nu", not colour alone),
and Graphviz's `dot` draws it. The page shows it with `<img>` and a text
alternative (an inline SVG would need the CSP to allow more); the table of
transitions beside it stays the accessible form. Pictures are drawn once per
process for each machine, state and language.
"""

import copy
from collections.abc import Mapping
from enum import Enum
from functools import lru_cache
from typing import Annotated, Any

import graphviz
import structlog
from fastapi import Query
from fastapi.responses import Response
from transitions.core import State
from transitions.extensions import GraphMachine

from api.routing import Router
from api.ui.i18n import LANGS, Lang, Words
from api.ui.web import ViewerDep, harden
from workflow.machines import BOARD_RULES, VERSION_RULES

log = structlog.get_logger(__name__)

MACHINES: Mapping[str, tuple[dict[str, Any], str]] = {
    "version_machine": (VERSION_RULES, "version_state"),
    "board_machine": (BOARD_RULES, "board_status"),
}
"""The diagrams there are: their rules table, and the kind of words that name their states."""

FONT = "DejaVu Sans,Helvetica,Arial,sans-serif"


class _LabelledState(State):
    """A state drawn with words of its own."""

    def __init__(self, *args: Any, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = label or self.name


def _styles() -> dict[str, Any]:
    """GraphMachine's styles in the page's font, the current state marked in the page's blue."""
    styles: dict[str, Any] = copy.deepcopy(GraphMachine.style_attributes)
    styles["node"]["default"] |= {"fontname": FONT, "fontsize": "12"}
    styles["node"]["active"] = {
        "color": "#1e3a8a",
        "fillcolor": "#dbeafe",
        "peripheries": "2",
        "penwidth": "2.5",
    }
    styles["edge"]["default"] |= {"fontname": FONT, "fontsize": "10"}
    styles["graph"]["default"] |= {"fontname": FONT, "fontsize": "14"}
    return styles


class _Drawing(GraphMachine):
    state_cls = _LabelledState  # transitions take a `label` already (TransitionGraphSupport)
    style_attributes = _styles()


def _value(state: Any) -> str:
    return str(state.value if isinstance(state, Enum) else state)


def _values(states: Any) -> Any:
    return [_value(s) for s in states] if isinstance(states, list | tuple) else _value(states)


def drawing(key: str, current: str | None, lang: Lang) -> GraphMachine:
    """The machine `key` for drawing: its rules table with the page's words, `current` marked."""
    rules, kind = MACHINES[key]
    words = Words(lang)
    now = " (nu)" if lang == "sv" else " (now)"
    states = [
        {
            "name": _value(s),
            "label": words.label(kind, _value(s)) + (now if _value(s) == current else ""),
        }
        for s in rules["states"]
    ]
    transitions = []
    for t in rules["transitions"]:
        guards = [words.label("guard", g) for g in t.get("conditions", [])]
        label = words.label("trigger", t["trigger"]) + (f" [{', '.join(guards)}]" if guards else "")
        transitions.append(
            {
                "trigger": t["trigger"],
                "source": _values(t["source"]),
                "dest": _value(t["dest"]),
                "label": label,
            }
        )
    return _Drawing(
        model=None,
        states=states,
        transitions=transitions,
        initial=_value(rules["initial"]),
        auto_transitions=False,
        graph_engine="graphviz",
        title=words(key),
    )


@lru_cache(maxsize=64)
def svg(key: str, current: str | None, lang: Lang) -> bytes:
    """The SVG of machine `key` with `current` marked, in `lang`."""
    machine = drawing(key, current, lang)
    graph = machine.graph_cls(machine)
    if current is not None:
        graph.set_node_style(current, "active")
    digraph: Any = graph.get_graph(title=machine.title)  # a graphviz.Digraph
    picture: bytes = digraph.pipe(format="svg")
    return picture


router = Router(prefix="/ui", include_in_schema=False)


@router.get("/diagrams/{key}.svg")
def diagram(
    key: str,
    _viewer: ViewerDep,
    state: Annotated[str | None, Query(max_length=32)] = None,
    lang: Annotated[str | None, Query(max_length=2)] = None,
) -> Response:
    """A state machine as SVG, its current state marked (the program page's picture)."""
    if key not in MACHINES:
        return harden(Response("no such diagram", 404, media_type="text/plain"))
    rules, _kind = MACHINES[key]
    known = {_value(s) for s in rules["states"]}
    language: Lang = next((x for x in LANGS if x == lang), LANGS[0])
    try:
        picture = svg(key, state if state in known else None, language)
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError) as exc:
        log.warning("diagram_unavailable", error=str(exc)[:300])
        return harden(Response("Graphviz (dot) is not installed", 503, media_type="text/plain"))
    response = harden(Response(picture, media_type="image/svg+xml"))
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
