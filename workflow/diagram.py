"""Mermaid diagrams drawn from the same rules tables that enforce the workflow."""

from transitions import Machine

from workflow.machines import BOARD_MACHINE, VERSION_MACHINE, transition_table


def mermaid(machine: Machine, title: str) -> str:
    """A Mermaid `stateDiagram-v2` of one machine, guards shown in brackets."""
    lines = ["---", f"title: {title}", "---", "stateDiagram-v2", f"    [*] --> {machine.initial}"]
    for source, trigger, dest, guards in transition_table(machine):
        label = trigger + (f" [{' and '.join(guards)}]" if guards else "")
        lines.append(f"    {source} --> {dest}: {label}")
    return "\n".join(lines) + "\n"


def workflow_diagram() -> str:
    """Both machines, the version's first, as one Mermaid document per machine."""
    return (
        mermaid(VERSION_MACHINE, "program version")
        + "\n"
        + mermaid(BOARD_MACHINE, "board decision")
    )
