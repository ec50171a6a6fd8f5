"""Who may pay an order and who may refund one. Pure: plain values in, a
domain exception out; no HTTP, no database, no AWS. Whether the order exists
for the caller at all is the orders' rule (orders/access.py), checked first.

    customer  starts the card payment of their own order
    staff     starts any order's payment; asks for refunds
    service   neither: fulfilment moves orders, money is not its business"""

from chalicelib.core.errors import Forbidden
from chalicelib.identity.principal import CUSTOMER, STAFF, Principal


def check_can_pay(principal: Principal) -> None:
    if principal.role not in (CUSTOMER, STAFF):
        raise Forbidden('Only the customer or staff may pay an order')


def check_can_refund(principal: Principal) -> None:
    if principal.role != STAFF:
        raise Forbidden('Only staff may refund')
