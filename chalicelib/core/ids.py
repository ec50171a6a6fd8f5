"""Ids of orders, users, products and every other row: positive integers no
larger than a BIGINT column holds."""

from typing import TypeGuard

MAX_ID = 2**63 - 1


def is_id(value: object) -> TypeGuard[int]:
    """An id as JSON carries it: an int (not a bool) within the range."""
    return type(value) is int and 1 <= value <= MAX_ID
