"""An order's money as its answer shows it: the payment status follows from
what was paid and what was refunded. Pure: no database, no AWS.

It sits with the orders (not in payments/) because every order answer
carries it and a PUT to paid records a payment taken outside the service;
payments/ builds on it."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.core import money

STRIPE = 'stripe'  # the provider of a card payment
UNPAID, PAID, PARTIALLY_REFUNDED, REFUNDED = 'unpaid', 'paid', 'partially_refunded', 'refunded'
PAYMENT_STATUSES = (UNPAID, PAID, PARTIALLY_REFUNDED, REFUNDED)


def payment_status(amount_paid: Decimal, amount_refunded: Decimal) -> str:
    if amount_paid <= 0:
        return UNPAID
    if amount_refunded <= 0:
        return PAID
    if amount_refunded < amount_paid:
        return PARTIALLY_REFUNDED
    return REFUNDED


def refund_due(amount_paid: Decimal, amount_refunded: Decimal) -> Decimal:
    """What was paid and not yet refunded (never below nothing)."""
    return max(amount_paid - amount_refunded, money.ZERO)


def dump_payment(
    amount_paid: Decimal, amount_refunded: Decimal, provider: str | None, reference: str | None
) -> dict:
    return {
        'status': payment_status(amount_paid, amount_refunded),
        'amount_paid': money.to_json(amount_paid),
        'amount_refunded': money.to_json(amount_refunded),
        'provider': provider,
        'reference': reference,
    }
