"""Request headers and response shapes that several resources share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalice import Response

from chalicelib.core.errors import InvalidInput, VersionMismatch
from chalicelib.core.ids import MAX_ID

_ETAG = re.compile(r'"([0-9]{1,9})"|([0-9]{1,9})')
_DIGITS = re.compile(r'[0-9]{1,19}')
_OUT_OF_RANGE = f'Must be greater than or equal to 1 and less than or equal to {MAX_ID}.'


def path_id(value: str, name: str = 'order_id') -> int:
    """An id in a path (/orders/{order_id}): plain digits, 1 to 2^63 - 1, in
    marshmallow's words, without loading marshmallow for a GET."""
    if not _DIGITS.fullmatch(value):
        raise InvalidInput(f'Invalid {name}', {name: ['Not a valid integer.']})
    number = int(value)
    if not 1 <= number <= MAX_ID:
        raise InvalidInput(f'Invalid {name}', {name: [_OUT_OF_RANGE]})
    return number


def versioned_response(
    body: dict[str, Any], status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A resource that carries a `version`, with that version as its ETag."""
    answer_headers: dict[str, str | list[str]] = {'ETag': f'"{body["version"]}"', **(headers or {})}
    return Response(body=body, status_code=status_code, headers=answer_headers)


def expected_version(headers: Mapping[str, str], resource: str = 'order') -> int | None:
    """The version If-Match asks for; None when the header is absent or `*`."""
    value = headers.get('if-match')
    if value is None or value.strip() == '*':
        return None
    value = value.strip()
    weak = value.startswith('W/')
    match = _ETAG.fullmatch(value[2:] if weak else value)
    if match and weak:
        # If-Match compares strongly: a weak tag never matches (RFC 9110 13.1.1).
        raise VersionMismatch('A weak ETag never matches If-Match')
    if not match:
        raise InvalidInput(
            'Invalid If-Match header',
            {'If-Match': [f'Must be an ETag of this {resource}, such as "1".']},
        )
    return int(match.group(1) or match.group(2))
