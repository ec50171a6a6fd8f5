"""What a request asks of returns, as the schemas load it (returns/schemas.py):
frozen and typed, already checked."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ReturnLine:
    """Units of one order line to send back, and why."""

    order_item_id: int
    quantity: int
    reason: str | None = None


@dataclass(frozen=True)
class NewReturn:
    items: tuple[ReturnLine, ...]
    note: str | None = None


@dataclass(frozen=True)
class ReceivedLine:
    """What arrived of one line of the return, and whether it goes back on the shelf."""

    order_item_id: int
    received: int
    restock: bool


@dataclass(frozen=True)
class ReturnUpdate:
    """A move of a return: `reason` with declined (required), cancelled or
    received (the deduction's); `items` and `deduction` with received."""

    status: str
    reason: str | None = None
    items: tuple[ReceivedLine, ...] | None = None
    deduction: Decimal | None = None
