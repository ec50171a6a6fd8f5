"""The order lists' cursors: the one codec (core/paging.py) with the orders'
filters, a status and a user."""

from typing import TypedDict

from chalicelib.core.ids import is_id
from chalicelib.core.paging import Cursors
from chalicelib.orders.lifecycle import STATUSES


class Filters(TypedDict, total=False):
    """A list's filters; a filter left out or None is not applied."""

    status: str | None
    user_id: int | None


CURSORS = Cursors(status=STATUSES.__contains__, user_id=is_id)
