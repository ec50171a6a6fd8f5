"""The payments' SQL: the order's money changed with its status, a refund
recorded within the change that asked for it, the order's one PaymentIntent.
Bound and run by storage/statements.py."""

from chalicelib.storage.models import Order
from chalicelib.storage.statements import Statement

# A change of the order's money (a card payment, a refund that succeeded),
# with its status, in one atomic step like every change.
CHANGE_PAYMENT = Statement(
    Order,
    (
        'UPDATE orders SET status = :status, version = :version + 1, updated_at = :updated_at, '
        'amount_paid = :amount_paid, amount_refunded = :amount_refunded, '
        'payment_provider = :payment_provider, payment_reference = :payment_reference '
        'WHERE order_id = :order_id AND version = :version'
    ),
)
# A refund that succeeds within the change that asked for it (a cancellation's
# refund of a payment taken outside): that change already counts the version.
SET_REFUNDED = Statement(
    Order, ('UPDATE orders SET amount_refunded = :amount_refunded WHERE order_id = :order_id')
)
# The order's one PaymentIntent, kept by the first request that made it.
KEEP_PAYMENT_INTENT = Statement(
    Order,
    (
        'UPDATE orders SET payment_intent_id = :payment_intent_id '
        'WHERE order_id = :order_id AND payment_intent_id IS NULL'
    ),
)
