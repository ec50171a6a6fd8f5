"""The one totals calculator: what every line, the shipping and the whole
order cost, to the cent. Pure: lines, a discount, shipping, a zone's tax rates
and whether prices include tax, in; every amount, out. Every path that needs
an order's money (create, quote, an address change, refunds, emails, the
export) takes it from here, so no two of them can disagree by a cent.

The rules (docs/api.md, "Addresses, shipping, taxes and discounts"):

- A line's subtotal is quantity x unit price; `subtotal` is their sum.
- A discount comes before tax and sits on the lines: `percent`, each eligible
  line round(subtotal x v / 100); `fixed`, min(value, eligible subtotal)
  shared across eligible lines in proportion to their subtotals by largest
  remainder (ties to the earlier line), so the shares sum exactly;
  `free_shipping`, the shipping fee waived and the lines untouched.
- Shipping costs its price, or nothing once the goods (after discounts) reach
  its `free_over`; `shipping_total` is that less what a code waived.
- Tax is computed per line on its amount after its discount and rounded per
  line: excluded, round(net x r); included, gross - round(gross / (1 + r)).
  Shipping the same way, at the zone's `standard` rate when the zone taxes it.
- `order_total` = subtotal - discount_total + shipping_total (+ tax_total
  when prices exclude it) = what every line and the shipping were paid.

An address change keeps everything but the tax (retax): the lines, their
discounts as allocated and the shipping as charged stay what they were.

Every rounding is half up, to the currency's minor unit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from chalicelib.core import money

STANDARD = 'standard'
DiscountType = Literal['percent', 'fixed', 'free_shipping']
PERCENT: DiscountType = 'percent'
FIXED: DiscountType = 'fixed'
FREE_SHIPPING: DiscountType = 'free_shipping'
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Line:
    quantity: int
    unit_price: Decimal
    tax_class: str = STANDARD
    # Whether the order's discount code reaches this line (its product_ids).
    discountable: bool = True


@dataclass(frozen=True)
class Discount:
    type: DiscountType
    # percent: 0 < v <= 100; fixed: an amount in the order's currency;
    # free_shipping: not read.
    value: Decimal = money.ZERO


@dataclass(frozen=True)
class Shipping:
    price: Decimal
    free_over: Decimal | None = None


@dataclass(frozen=True)
class TaxZone:
    """A destination's flat rates by tax class; `shipping`: whether the
    `standard` rate also applies to shipping."""

    rates: Mapping[str, Decimal] = field(default_factory=dict)
    shipping: bool = False

    def rate(self, tax_class: str) -> Decimal:
        return self.rates.get(tax_class, money.ZERO)


@dataclass(frozen=True)
class LineTotals:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    tax_rate: Decimal
    paid: Decimal  # what the customer pays for the line, its tax included


@dataclass(frozen=True)
class ShippingTotals:
    amount: Decimal  # what the method charges this order (0 once free_over is reached)
    waived: Decimal  # what a free_shipping code took off it
    tax: Decimal
    paid: Decimal  # what the customer pays for shipping, its tax included


@dataclass(frozen=True)
class Totals:
    lines: tuple[LineTotals, ...]
    shipping: ShippingTotals
    subtotal: Decimal
    discount_total: Decimal
    shipping_total: Decimal
    tax_total: Decimal
    order_total: Decimal


def compute(
    lines: Sequence[Line],
    currency: str,
    *,
    discount: Discount | None = None,
    shipping: Shipping | None = None,
    zone: TaxZone | None = None,
    prices_include_tax: bool = False,
) -> Totals:
    subtotals = [line.unit_price * line.quantity for line in lines]
    discounts = _discounts(lines, subtotals, discount, currency)
    goods = sum(subtotals, money.ZERO) - sum(discounts, money.ZERO)
    amount, waived = _shipping_charge(shipping, goods, discount)
    return _taxed(lines, discounts, amount, waived, zone or TaxZone(), currency, prices_include_tax)


def retax(
    lines: Sequence[Line],
    discounts: Sequence[Decimal],
    currency: str,
    *,
    shipping_amount: Decimal = money.ZERO,
    shipping_waived: Decimal = money.ZERO,
    zone: TaxZone | None = None,
    prices_include_tax: bool = False,
) -> Totals:
    """A placed order's totals at another destination (an address change):
    its lines, their discounts as they were allocated and what its shipping
    charged and a code waived, all kept; only the tax is computed again, by
    the same rules as compute's."""
    return _taxed(
        lines,
        discounts,
        shipping_amount,
        shipping_waived,
        zone or TaxZone(),
        currency,
        prices_include_tax,
    )


def _taxed(
    lines: Sequence[Line],
    discounts: Sequence[Decimal],
    shipping_amount: Decimal,
    shipping_waived: Decimal,
    zone: TaxZone,
    currency: str,
    prices_include_tax: bool,
) -> Totals:
    """Every amount once the discounts and the shipping charge are known:
    each line's and the shipping's tax, and the order's totals."""
    subtotals = [line.unit_price * line.quantity for line in lines]
    line_totals = []
    for line, subtotal, line_discount in zip(lines, subtotals, discounts, strict=True):
        rate = zone.rate(line.tax_class)
        net = subtotal - line_discount
        tax = _tax(net, rate, currency, prices_include_tax)
        line_totals.append(
            LineTotals(
                subtotal=_cents(subtotal),
                discount=_cents(line_discount),
                tax=tax,
                tax_rate=rate,
                paid=line_paid(_cents(subtotal), _cents(line_discount), tax, prices_include_tax),
            )
        )
    shipping_totals = _shipping_tax(
        shipping_amount, shipping_waived, zone, currency, prices_include_tax
    )
    subtotal = _cents(sum(subtotals, money.ZERO))
    discount_total = _cents(sum(discounts, money.ZERO))
    tax_total = sum((line.tax for line in line_totals), shipping_totals.tax)
    shipping_total = shipping_totals.amount - shipping_totals.waived
    order_total = subtotal - discount_total + shipping_total
    if not prices_include_tax:
        order_total += tax_total
    return Totals(
        lines=tuple(line_totals),
        shipping=shipping_totals,
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=_cents(shipping_total),
        tax_total=_cents(tax_total),
        order_total=_cents(order_total),
    )


def line_paid(
    subtotal: Decimal, discount: Decimal, tax: Decimal, prices_include_tax: bool
) -> Decimal:
    """What the customer pays for a line: its subtotal less its discount, and
    its tax on top when prices exclude it (included, it is already there)."""
    return _cents(subtotal - discount if prices_include_tax else subtotal - discount + tax)


def refund_share(paid: Decimal, quantity: int, refunded: int, units: int, currency: str) -> Decimal:
    """What refunding `units` of a line of `quantity` of which `refunded` went
    back before returns: round(paid x (r + k) / n) - round(paid x r / n). The
    cumulative rounding makes a whole line, refunded in any steps, return
    exactly `paid`, and no step more than is left of it."""
    if not 0 <= refunded <= refunded + units <= quantity:
        raise ValueError('more units than the line has left')
    after = round_minor(paid * (refunded + units) / quantity, currency)
    before = round_minor(paid * refunded / quantity, currency)
    return _cents(after - before)


def round_minor(amount: Decimal, currency: str) -> Decimal:
    """Half up, to the currency's minor unit (cents for USD, yen for JPY)."""
    return amount.quantize(Decimal(1).scaleb(-money.places(currency)), rounding=ROUND_HALF_UP)


def _discounts(
    lines: Sequence[Line],
    subtotals: Sequence[Decimal],
    discount: Discount | None,
    currency: str,
) -> list[Decimal]:
    if discount is None or discount.type == FREE_SHIPPING:
        return [money.ZERO] * len(lines)
    if discount.type == PERCENT:
        return [
            round_minor(subtotal * discount.value / _HUNDRED, currency)
            if line.discountable
            else money.ZERO
            for line, subtotal in zip(lines, subtotals, strict=True)
        ]
    eligible = [
        subtotal if line.discountable else money.ZERO
        for line, subtotal in zip(lines, subtotals, strict=True)
    ]
    return _largest_remainder(min(discount.value, sum(eligible, money.ZERO)), eligible, currency)


def _largest_remainder(amount: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """`amount` shared in proportion to `weights`, in whole minor units: each
    share its quota rounded down, then one more unit to each of the largest
    remainders (ties to the earlier line) until the shares sum to `amount`.
    In integers of the minor unit, so no decimal context can round a quota."""
    scale = money.places(currency)
    total_units = int(amount.scaleb(scale))
    units = [int(weight.scaleb(scale)) for weight in weights]
    whole = sum(units)
    if whole == 0 or total_units == 0:
        return [money.ZERO] * len(weights)
    shares = [total_units * weight // whole for weight in units]
    remainders = [total_units * weight % whole for weight in units]
    left = total_units - sum(shares)
    for index in sorted(range(len(units)), key=lambda i: (-remainders[i], i))[:left]:
        shares[index] += 1
    return [Decimal(share).scaleb(-scale) for share in shares]


def _tax(net: Decimal, rate: Decimal, currency: str, included: bool) -> Decimal:
    if included:
        return _cents(net - round_minor(net / (1 + rate), currency))
    return _cents(round_minor(net * rate, currency))


def _shipping_charge(
    shipping: Shipping | None, goods: Decimal, discount: Discount | None
) -> tuple[Decimal, Decimal]:
    """(what the method charges the order, what a free-shipping code waives of it)."""
    if shipping is None:
        return money.ZERO, money.ZERO
    free = shipping.free_over is not None and goods >= shipping.free_over
    amount = money.ZERO if free else shipping.price
    waived = amount if discount is not None and discount.type == FREE_SHIPPING else money.ZERO
    return amount, waived


def _shipping_tax(
    amount: Decimal, waived: Decimal, zone: TaxZone, currency: str, included: bool
) -> ShippingTotals:
    charged = amount - waived
    rate = zone.rate(STANDARD) if zone.shipping else money.ZERO
    tax = _tax(charged, rate, currency, included)
    return ShippingTotals(
        amount=_cents(amount),
        waived=_cents(waived),
        tax=tax,
        paid=line_paid(charged, money.ZERO, tax, included),
    )


def _cents(amount: Decimal) -> Decimal:
    """As the columns keep every amount: two decimals (2400 JPY is 2400.00)."""
    return amount.quantize(money.CENT) if amount else money.ZERO
