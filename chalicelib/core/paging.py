"""Keyset cursors for every list (orders, products): opaque to clients, they
carry the last key served and the filters that produced the page, so the next
page is read after that key with the same filters. Each list names its
filters and what a remembered value may be; the codec is this one.

A filter repeated in the query must be the one the cursor was made with: a
cursor never turns into another list."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chalicelib.core.errors import InvalidInput
from chalicelib.core.ids import is_id


def _malformed() -> InvalidInput:
    return InvalidInput('Invalid query parameters', {'cursor': ['Not a valid cursor.']})


class Cursors:
    """The cursors of one list: `filters` maps each filter's name to what a
    remembered value of it may be."""

    def __init__(self, **filters: Callable[[object], bool]) -> None:
        self.filters = filters

    def encode(self, after: int, filters: Mapping[str, object]) -> str:
        state: dict[str, object] = {'after': after}
        state.update(
            {name: filters[name] for name in self.filters if filters.get(name) is not None}
        )
        raw = json.dumps(state, separators=(',', ':')).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip('=')

    def decode(self, cursor: str, given: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        """(the last key served, the filters the cursor was made with); a
        filter given again must match the cursor's."""
        try:
            padded = cursor + '=' * (-len(cursor) % 4)
            state = json.loads(base64.urlsafe_b64decode(padded.encode('ascii')))
        except (ValueError, UnicodeError, binascii.Error):
            raise _malformed() from None
        if not isinstance(state, dict) or set(state) - {'after', *self.filters}:
            raise _malformed()
        after = state.get('after')
        if not is_id(after) or not all(
            valid(state[name]) for name, valid in self.filters.items() if name in state
        ):
            raise _malformed()
        for name in self.filters:
            value = given.get(name)
            if value is not None and value != state.get(name):
                raise InvalidInput(
                    'Invalid query parameters',
                    {name: ['Does not match the filter the cursor was made with.']},
                )
        return after, {name: state.get(name) for name in self.filters}


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list: by number (`page`, 1 when neither is given) or
    after a cursor, never both (core/inputs.py's PageQuerySchema checks it)."""

    page_size: int = 10
    page: int | None = None
    cursor: str | None = None

    @property
    def number(self) -> int | None:
        """The page number answered: None for a cursor's page."""
        return None if self.cursor is not None else (self.page or 1)

    @property
    def offset(self) -> int:
        """The rows before the page: 0 for a cursor's page."""
        number = self.number
        return (number - 1) * self.page_size if number is not None else 0
