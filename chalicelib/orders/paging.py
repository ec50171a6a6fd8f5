"""Keyset cursors for the list endpoints: opaque to clients, they carry the
last order_id served and the filters that produced the page."""

import base64
import binascii
import json
from typing import Literal, TypedDict, cast

from chalicelib.core.errors import InvalidInput
from chalicelib.core.ids import MAX_ID
from chalicelib.orders.lifecycle import STATUSES

FILTERS: tuple[Literal['status', 'user_id'], ...] = ('status', 'user_id')


class Filters(TypedDict, total=False):
    """A list's filters; a filter left out or None is not applied."""

    status: str | None
    user_id: int | None


def encode_cursor(after_order_id: int, filters: Filters) -> str:
    state: dict[str, object] = {'after': after_order_id}
    state.update({name: filters[name] for name in FILTERS if filters.get(name) is not None})
    raw = json.dumps(state, separators=(',', ':')).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip('=')


def _malformed() -> InvalidInput:
    return InvalidInput('Invalid query parameters', {'cursor': ['Not a valid cursor.']})


def decode_cursor(cursor: str, filters: Filters) -> tuple[int, Filters]:
    """Return (after_order_id, filters); filters repeated in the query must
    match the cursor's."""
    try:
        padded = cursor + '=' * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode('ascii')))
    except (ValueError, UnicodeError, binascii.Error):
        raise _malformed() from None
    if not isinstance(state, dict) or set(state) - {'after', *FILTERS}:
        raise _malformed()
    after = state.get('after')
    if (
        not _is_id(after)
        or not _is_id(state.get('user_id', 1))
        or state.get('status', 'pending') not in STATUSES
    ):
        raise _malformed()
    for name in FILTERS:
        given = filters.get(name)
        if given is not None and given != state.get(name):
            raise InvalidInput(
                'Invalid query parameters',
                {name: ['Does not match the filter the cursor was made with.']},
            )
    return cast(int, after), Filters(status=state.get('status'), user_id=state.get('user_id'))


def _is_id(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_ID
