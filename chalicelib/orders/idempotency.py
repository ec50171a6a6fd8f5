"""Idempotency-Key for POST /orders, all of it: the header's rules, the
key's scope (its sender), the request's fingerprint, and the stored key's
claim, replay, lease and expiry. Keys live in the database so that every
Lambda copy sees them.

A key is claimed in a short transaction of its own (the row says "in flight"),
and completed in the transaction that creates the order, so an order and its
stored answer commit together or not at all."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import peewee

from chalicelib.core.errors import IdempotencyKeyInFlight, IdempotencyKeyReused, InvalidInput
from chalicelib.identity.principal import Principal
from chalicelib.orders import queries
from chalicelib.storage import statements
from chalicelib.storage.connection import CONNECTION_ERRORS, database, discard_if_broken
from chalicelib.storage.models import IdempotencyKey

KEY_TTL = timedelta(hours=24)
# A claim still in flight after this long belongs to an invocation that died
# (the Lambda timeout is far shorter); a retry may take it over.
IN_FLIGHT_LEASE = timedelta(minutes=5)
_PRINTABLE = re.compile(r'[\x20-\x7e]{1,255}')


def validate_key(key: str) -> str:
    if not _PRINTABLE.fullmatch(key):
        raise InvalidInput(
            'Invalid Idempotency-Key header',
            {'Idempotency-Key': ['Must be 1 to 255 printable ASCII characters.']},
        )
    return key


def fingerprint(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(',', ':'), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def scoped_key(principal: Principal, key: str) -> str:
    """The stored form of an Idempotency-Key, owned by the principal that sent
    it: the same key from two principals is two keys.

    sha256 hex of sub, NUL, key: 64 characters whatever the lengths (it fits
    the 255-byte key column with room to spare, and no sub can stretch it),
    and no raw key reaches the database. A key is printable ASCII, so it
    holds no NUL and the last NUL splits the pair one way only."""
    if '\0' in key:
        raise ValueError('an Idempotency-Key holds no NUL')
    return hashlib.sha256(f'{principal.sub}\0{key}'.encode()).hexdigest()


def claim(key: str, request_hash: str, now: datetime) -> dict[str, Any] | None:
    """Take the (scoped) key for this request and return None, or return the
    stored answer of the request that already completed with it."""
    for _ in range(5):
        try:
            with database.atomic():
                IdempotencyKey.create(key=key, request_hash=request_hash, created_at=now)
            return None
        except peewee.IntegrityError:
            pass
        row = IdempotencyKey.get_or_none(IdempotencyKey.key == key)
        if row is None:
            continue  # released or expired meanwhile: try to claim again
        if row.created_at < now - KEY_TTL:
            _delete_if_unchanged(row)
            continue
        if row.request_hash != request_hash:
            raise IdempotencyKeyReused()
        if row.response_body is not None:
            return json.loads(row.response_body)
        if row.created_at < now - IN_FLIGHT_LEASE and _take_over(row, now):
            return None
        raise IdempotencyKeyInFlight()
    # Claimed and released over and over by others: as good as in flight.
    raise IdempotencyKeyInFlight()


def _delete_if_unchanged(row: IdempotencyKey) -> None:
    (
        IdempotencyKey.delete()
        .where((IdempotencyKey.key == row.key) & (IdempotencyKey.created_at == row.created_at))
        .execute()
    )


def _take_over(row: IdempotencyKey, now: datetime) -> bool:
    taken = (
        IdempotencyKey.update(created_at=now)
        .where(
            (IdempotencyKey.key == row.key)
            & (IdempotencyKey.created_at == row.created_at)
            & IdempotencyKey.response_body.is_null()
        )
        .execute()
    )
    return taken == 1


def complete(key: str, answer: dict[str, Any], order_id: int) -> None:
    """Store the answer; call inside the transaction that creates the order."""
    (
        IdempotencyKey.update(
            response_body=json.dumps(answer, separators=(',', ':')), order_id=order_id
        )
        .where(IdempotencyKey.key == key)
        .execute()
    )


def claim_or_replay(
    principal: Principal,
    key: str | None,
    request_hash: str | None,
    now: datetime,
    path: str | None = None,
) -> tuple[str | None, dict[str, Any] | None]:
    """(the stored key the new resource's answer is completed under, the
    stored answer when this is a replay). No key: (None, None), nothing
    stored. `path` keeps a key sent to another path (refunds, returns) apart
    from the same key sent to POST /orders; keys are printable ASCII, so the
    line break cannot be part of one."""
    if key is None:
        return None, None
    assert request_hash is not None  # the route sends a key with its body's hash
    scoped = scoped_key(principal, key if path is None else f'{key}\n{path}')
    return scoped, claim(scoped, request_hash, now)


@contextmanager
def released_on_failure(key: str | None) -> Iterator[None]:
    """Let go of a claimed key when the work it guards fails, so a retry of
    the request runs it again."""
    try:
        yield
    except Exception:
        if key is not None:
            release_quietly(key)
        raise


def release(key: str) -> None:
    """Forget a claim whose request failed, so that a retry can run."""
    (
        IdempotencyKey.delete()
        .where((IdempotencyKey.key == key) & IdempotencyKey.response_body.is_null())
        .execute()
    )


def release_quietly(key: str) -> None:
    """release(), for a request that is failing already: the database's own
    failure must not hide the request's."""
    try:
        release(key)
    except CONNECTION_ERRORS as exc:
        # The database is gone or busy; the claim lapses after its lease.
        discard_if_broken(exc)


def forget_order(order_id: int) -> None:
    """A deleted order's stored answers must never replay it; call inside the
    transaction that deletes it."""
    statements.run(queries.FORGET_KEYS_OF_ORDER, order_id=order_id)
