"""What stock allows, and what an order's lines hold. Pure: no database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol


class HeldLine(Protocol):
    product_id: int
    quantity: int
    holds_stock: bool


class Stocked(Protocol):
    on_hand: int | None
    reserved: int


def available(product: Stocked) -> int | None:
    """What may still be sold; None: not tracked, no limit."""
    if product.on_hand is None:
        return None
    return max(product.on_hand - product.reserved, 0)


def shortages(
    wanted: Sequence[tuple[int, int, int]], products: Mapping[int, Stocked]
) -> dict[int, dict[str, list[str]]]:
    """wanted: (item index, product_id, quantity) of the lines that reserve.
    The items (by index) of every product asked for more than is available,
    each saying how many are; a product on several lines counts them together."""
    asked: dict[int, int] = defaultdict(int)
    for _, product_id, quantity in wanted:
        asked[product_id] += quantity
    short = {}
    for index, product_id, _ in wanted:
        left = available(products[product_id])
        if left is not None and asked[product_id] > left:
            short[index] = {'quantity': [f'Only {left} available.']}
    return short


def held(lines: Iterable[HeldLine]) -> dict[int, int]:
    """{product_id: quantity} that these lines of one order hold."""
    quantities: dict[int, int] = defaultdict(int)
    for line in lines:
        if line.holds_stock:
            quantities[line.product_id] += line.quantity
    return dict(quantities)
