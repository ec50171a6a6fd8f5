"""Who is calling, from the claims of a verified token."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import Unauthenticated
from chalicelib.platform.config import DEFAULT_STAFF_GROUP, DEFAULT_USER_ID_CLAIM

CUSTOMER, STAFF, SERVICE = 'customer', 'staff', 'service'
ROLES = (CUSTOMER, STAFF, SERVICE)
# The service's own scheduled functions (expire_unpaid): never a token's role.
SYSTEM = 'system'
ADMIN_SCOPE = 'orders/admin'
FULFILMENT_SCOPE = 'orders/fulfilment'
MAX_USER_ID = 2**63 - 1  # the orders.user_id column
MAX_SUB_CHARS = 255
MAX_EMAIL_CHARS = 254
_DIGITS = re.compile(r'[0-9]{1,20}')  # [0-9], not \d: no other script's digits


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str  # one of ROLES
    user_id: int | None = None
    email: str | None = None  # verified by the issuer, else None


def parse_user_id(value: object) -> int | None:
    """The shop's user id from its claim: a positive JSON integer, or a string
    of ASCII digits (Cognito sends custom attributes as strings); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = int(value) if _DIGITS.fullmatch(value) else None
    if isinstance(value, int) and 1 <= value <= MAX_USER_ID:
        return value
    return None


def is_machine_token(claims: Mapping[str, Any]) -> bool:
    """A Cognito client-credentials access token: issued to an app client,
    for no user. A user's access token also carries `scope` (and an admin
    of the user pool can put `orders/admin` in it through a resource server
    the user may ask for), but always with a `username` and the user's own
    `sub`; only a machine token has the client as its subject."""
    client_id = claims.get('client_id')
    return (
        claims.get('token_use') == 'access'
        and 'username' not in claims
        and isinstance(client_id, str)
        and claims.get('sub') == client_id
    )


def _scopes(claims: Mapping[str, Any]) -> set[str]:
    """The scopes that may grant a role: a machine token's only."""
    scope = claims.get('scope')
    if not isinstance(scope, str) or not is_machine_token(claims):
        return set()
    return set(scope.split())


def _groups(claims: Mapping[str, Any]) -> set[str]:
    groups = claims.get('cognito:groups')
    if not isinstance(groups, list):
        return set()
    return {group for group in groups if isinstance(group, str)}


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get('email')
    verified = claims.get('email_verified')
    # `is True`, not `in (True, 'true')`: 1 == True, and 1 is not a yes here.
    if (
        (verified is True or verified == 'true')
        and isinstance(email, str)
        and 0 < len(email) <= MAX_EMAIL_CHARS
    ):
        return email
    return None


def principal_from_claims(
    claims: Mapping[str, Any],
    user_id_claim: str = DEFAULT_USER_ID_CLAIM,
    staff_group: str = DEFAULT_STAFF_GROUP,
) -> Principal:
    """The Principal of verified claims, or Unauthenticated when they give no
    role or a user id claim that is not a positive integer."""
    sub = claims.get('sub')
    # The sub is written to the order's history and keys idempotency: no
    # control characters, no lone surrogates, a bounded length.
    if not isinstance(sub, str) or not 1 <= len(sub) <= MAX_SUB_CHARS or not sub.isprintable():
        raise Unauthenticated('token has no usable sub')
    user_id = None
    if user_id_claim in claims:
        user_id = parse_user_id(claims[user_id_claim])
        if user_id is None:
            raise Unauthenticated(f'claim {user_id_claim!r} is not a positive integer')
    scopes = _scopes(claims)
    if staff_group in _groups(claims) or ADMIN_SCOPE in scopes:
        role = STAFF
    elif FULFILMENT_SCOPE in scopes:
        role = SERVICE
    elif user_id is not None:
        role = CUSTOMER
    else:
        raise Unauthenticated(f'token gives no role: not staff, not service, no {user_id_claim!r}')
    return Principal(sub=sub, role=role, user_id=user_id, email=_verified_email(claims))
