"""The order lifecycle: which status may follow which. Pure: no database, no AWS."""

from chalicelib.core.errors import TransitionForbidden

STATUSES = ('pending', 'paid', 'shipped', 'delivered', 'cancelled')
TRANSITIONS: dict[str, set[str]] = {
    'pending': {'paid', 'shipped', 'cancelled'},
    'paid': {'shipped', 'cancelled'},
    'shipped': {'delivered'},
    'delivered': set(),
    'cancelled': set(),
}


def check_transition(current: str, new: str) -> bool:
    """Return True if the move changes the order, False if it is a no-op;
    raise TransitionForbidden for a move the lifecycle does not allow."""
    if current == new:
        return False
    if new not in TRANSITIONS[current]:
        if not TRANSITIONS[current]:
            raise TransitionForbidden(
                f"Cannot change status from '{current}' to '{new}': '{current}' is final"
            )
        raise TransitionForbidden(f"Cannot change status from '{current}' to '{new}'")
    return True
