"""The exact words an action is refused with (the page shows them; tests check them)."""

from __future__ import annotations


def still_open(encounter_id: str, where: str) -> str:
    """The agent still adds chips to the encounter: a decision now would be overwritten."""
    return (
        f"encounter {encounter_id} at {where} is still open (the agent is adding chips to it): "
        "decide it once it has ended"
    )


def merged(encounter_id: str, into: str) -> str:
    """The encounter joined another one of its camera."""
    return f"encounter {encounter_id} was merged into encounter {into}: decide that one"


def changed(encounter_id: str) -> str:
    """The encounter changed between showing it and acting on it."""
    return f"encounter {encounter_id} changed while you looked at it: look at it again"


def nothing_to_confirm(encounter_id: str) -> str:
    """A review encounter without candidates."""
    return (
        f"encounter {encounter_id} has no candidate to confirm: assign it to an individual or "
        "create a new one"
    )


def all_rejected(encounter_id: str) -> str:
    """Every chip of the encounter was rejected."""
    return f"every chip of encounter {encounter_id} is rejected: undo that first"


def not_provisional(individual: str) -> str:
    """Merge moves a provisional individual, not a named one."""
    return (
        f"{individual} is a named individual: merge moves a provisional individual "
        "(unknown-...) into a named one"
    )


def not_named(individual: str) -> str:
    """Merge targets a named individual."""
    return f"{individual} has no name yet: merge into a named individual, or name it first"


def individual_open(individual: str, where: str) -> str:
    """An individual with an encounter the agent still has open."""
    return f"{individual} has an encounter still open at {where}: try again once it has ended"


def name_taken(name: str, owner: str) -> str:
    """A new individual's name is in use."""
    return (
        f"the name {name!r} is already used by {owner}: assign the encounter to it, or choose "
        "another name"
    )


def same_individual(individual: str) -> str:
    """Assigning an encounter to the individual it already has."""
    return f"the encounter is already {individual}: use confirm"


def provisional_to_provisional(source: str, target: str) -> str:
    """Two provisional individuals cannot be merged."""
    return (
        f"{source} and {target} are both provisional: name one of them first, then merge "
        "the other into it"
    )


def no_chips_selected() -> str:
    """A reject without chips."""
    return "select the chips to reject first"


def not_last(action_id: int, last: int | None) -> str:
    """Undo goes back one step at a time."""
    if last is None:
        return "there is nothing to undo"
    return f"only the last action can be undone (#{last}), not #{action_id}"


def undo_conflict(what: str) -> str:
    """Something the action changed has changed again since."""
    return f"cannot undo: {what} changed since; undo would overwrite that"


def seen_since(individual: str, count: int) -> str:
    """An individual created by the action has been matched by the agent since."""
    return (
        f"cannot undo: the agent has matched {count} chip(s) to {individual} since; undoing "
        "would leave them pointing at an individual that no longer exists"
    )
