"""What the domain refuses, and why. chalicelib/api/errors.py maps each class to one HTTP status."""

from __future__ import annotations

from typing import Any

# An error answer lists at most this many problems, and names that there were
# more: a request built to fail everywhere must not buy a megabyte answer.
MAX_PROBLEMS = 100
# A field name echoed back (an unknown field is keyed by its own name) is
# cut to this many characters.
MAX_KEY_CHARS = 100


def _capped(errors: Any, room: list[int]) -> tuple[Any, int]:
    """`errors` with at most room[0] messages (room is spent as they are
    kept) and the number of messages it held in all."""
    if isinstance(errors, dict):
        kept, total = {}, 0
        for key, value in errors.items():
            value, count = _capped(value, room)
            total += count
            if value:
                if isinstance(key, str) and len(key) > MAX_KEY_CHARS:
                    key = key[:MAX_KEY_CHARS] + '…'
                kept[key] = value
        return kept, total
    if isinstance(errors, (list, tuple)):
        entries: list[Any] = []
        total = 0
        for value in errors:
            value, count = _capped(value, room)
            total += count
            if value:
                entries.append(value)
        return entries, total
    if room[0] <= 0:
        return None, 1
    room[0] -= 1
    return errors, 1


class OrderServiceError(Exception):
    message = 'Order service error'

    # Field errors as marshmallow reports them: lists of messages keyed by
    # field (by line number for a file import), nested by list index and
    # field for what lies deeper.
    errors: dict[Any, Any] | None

    def __init__(self, message: str | None = None, errors: dict[Any, Any] | None = None) -> None:
        message = message or self.message
        if errors:
            errors, total = _capped(errors, [MAX_PROBLEMS])
            if total > MAX_PROBLEMS:
                message = f'{message} ({total} problems; the first {MAX_PROBLEMS} are listed)'
        super().__init__(message)
        self.errors = errors


class InvalidInput(OrderServiceError):
    message = 'Invalid input'


class PayloadTooLarge(OrderServiceError):
    message = 'Request body is too large'


class ExportTooLarge(OrderServiceError):
    message = 'Too many orders for one export: narrow the dates'


class OrderNotFound(OrderServiceError):
    message = 'Order not found'


class ProductNotFound(OrderServiceError):
    message = 'Product not found'


class DiscountNotFound(OrderServiceError):
    message = 'Discount code not found'


class DiscountRefused(OrderServiceError):
    """The order's discount code does not apply; `errors` says why."""


class ShippingMethodNotFound(OrderServiceError):
    message = 'Shipping method not found'


class ShippingMethodRefused(OrderServiceError):
    """The order's shipping method cannot ship it; `errors` says why."""


class TotalChanged(OrderServiceError):
    """The expected_total a client sent is not the total the server computes;
    `errors` names the computed one."""


class TaxRateNotFound(OrderServiceError):
    message = 'No tax rates for this zone'


class TransitionForbidden(OrderServiceError):
    pass


class PriceChanged(OrderServiceError):
    """A customer's price_at_order is not the catalog's price any more;
    `errors` names the current price of each such item."""

    message = 'A price has changed: see the current price of each item named'


class OutOfStock(OrderServiceError):
    """`errors` says, for each item asking for more than there is, how many are available."""

    message = 'Not enough stock: see how many are available of each item named'


class TooManyPendingOrders(OrderServiceError):
    """The customer holds MAX_PENDING_ORDERS_PER_CUSTOMER pending orders already."""

    message = 'Pay for or cancel an open order first.'


class SkuTaken(OrderServiceError):
    pass


class VersionMismatch(OrderServiceError):
    pass


class IdempotencyKeyInFlight(OrderServiceError):
    message = 'A request with this Idempotency-Key is still being processed'


class IdempotencyKeyReused(OrderServiceError):
    message = 'This Idempotency-Key was used with a different request body'


class DatabaseUnavailable(OrderServiceError):
    message = 'The database is unavailable; try again shortly'


class DatabaseBusy(DatabaseUnavailable):
    """A deadlock or a lock wait outlasted one retry of the transaction."""

    message = 'The database is busy; try again shortly'


class TooManyConnections(DatabaseUnavailable):
    """The server (or the user's limit) has no connection to spare."""

    message = 'The database has no connection to spare; try again shortly'


class Unauthenticated(OrderServiceError):
    """No usable bearer token. `reason` is for the log only: the client is
    told nothing about why, so a probe learns nothing about the keys, the
    issuer or the order it asked for. `token_sent` tells a missing token
    apart from a bad one (the WWW-Authenticate challenge differs)."""

    message = 'A valid bearer token is required'

    def __init__(self, reason: str, token_sent: bool = True) -> None:
        super().__init__('The bearer token is invalid or expired' if token_sent else None)
        self.reason = reason
        self.token_sent = token_sent


class Forbidden(OrderServiceError):
    message = 'Not allowed for this caller'


class ReturnNotFound(OrderNotFound):
    message = 'Return not found'


class ReturnConflict(OrderServiceError):
    """The order cannot take this return now: its status, the return
    window, or more of a line than is left to return (`errors` by item)."""

    message = 'The order cannot take this return'


class RefundNotFound(OrderNotFound):
    message = 'Refund not found'


class PaymentConflict(OrderServiceError):
    """The order cannot take this payment or refund now (its status, or
    more than was paid)."""

    message = 'The order cannot take this payment or refund'


class RefundInFlight(OrderServiceError):
    """The order has a refund still pending: deleting the order would take the
    refund's row with it before it is sent, and the money owed with it."""

    message = (
        'A refund of this order is still being sent; delete it once it has succeeded or failed'
    )


class PaymentsNotConfigured(OrderServiceError):
    message = 'Card payments are not configured on this deployment'


class PaymentProviderUnavailable(OrderServiceError):
    message = 'The payment provider is unavailable; try again shortly'


class PaymentProviderRefused(OrderServiceError):
    """The provider refused the call for good (not worth retrying as it is)."""

    message = 'The payment provider refused the request'
