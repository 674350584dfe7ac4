"""Mermaid diagrams drawn from the same rules tables that enforce the workflow.

Written here rather than by `transitions`' `GraphMachine(graph_engine="mermaid")`:
the contract's diagram is one Mermaid document holding both machines, and
GraphMachine draws one machine per document (its nested variant splits state
names at `_`, so `sent_out` would become a state `out` inside `sent`).
"""

from transitions import Machine

from workflow.machines import BOARD_MACHINE, VERSION_MACHINE, initial, states, transition_table


def _edges(machine: Machine, indent: str, prefix: str = "") -> list[str]:
    lines = [f"{indent}[*] --> {prefix}{initial(machine)}"]
    for source, trigger, dest, guards in transition_table(machine):
        label = trigger + (f" [{' and '.join(guards)}]" if guards else "")
        lines.append(f"{indent}{prefix}{source} --> {prefix}{dest}: {label}")
    return lines


def mermaid(machine: Machine, title: str) -> str:
    """A Mermaid `stateDiagram-v2` of one machine, guards shown in brackets."""
    lines = ["---", f"title: {title}", "---", "stateDiagram-v2", *_edges(machine, "    ")]
    return "\n".join(lines) + "\n"


def workflow_diagram() -> str:
    """Both machines as one Mermaid diagram: a composite state for each.

    The board machine's states are prefixed `board_` (shown by their own
    names) because both machines have a `rejected` state.
    """
    lines = ["stateDiagram-v2", '    state "program version" as version {']
    lines += _edges(VERSION_MACHINE, "        ")
    lines += ["    }", '    state "board decision (one per member board)" as board {']
    lines += [f'        state "{s}" as board_{s}' for s in states(BOARD_MACHINE)]
    lines += _edges(BOARD_MACHINE, "        ", prefix="board_")
    lines.append("    }")
    return "\n".join(lines) + "\n"
