"""The payments' SQL: the order's one PaymentIntent (a change of the order's
money is written by orders/service.apply_change, with orders/queries.py).
Bound and run by storage/statements.py."""

from chalicelib.storage.models import Order
from chalicelib.storage.statements import Statement

# The order's one PaymentIntent, kept by the first request that made it.
KEEP_PAYMENT_INTENT = Statement(
    Order,
    (
        'UPDATE orders SET payment_intent_id = :payment_intent_id '
        'WHERE order_id = :order_id AND payment_intent_id IS NULL'
    ),
)
