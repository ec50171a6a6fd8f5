"""Idempotency-Key for POST /orders, stored in the database so that every
Lambda copy sees it.

A key is claimed in a short transaction of its own (the row says "in flight"),
and completed in the transaction that creates the order, so an order and its
stored answer commit together or not at all."""
import hashlib
import json
import re
from datetime import timedelta

import peewee

from chalicelib.errors import (IdempotencyKeyInFlight, IdempotencyKeyReused,
                               InvalidInput)
from chalicelib.storage.connection import database
from chalicelib.storage.models import IdempotencyKey

KEY_TTL = timedelta(hours=24)
# A claim still in flight after this long belongs to an invocation that died
# (the Lambda timeout is far shorter); a retry may take it over.
IN_FLIGHT_LEASE = timedelta(minutes=5)
_PRINTABLE = re.compile(r'[\x20-\x7e]{1,255}')


def validate_key(key):
    if not _PRINTABLE.fullmatch(key):
        raise InvalidInput('Invalid Idempotency-Key header', {
            'Idempotency-Key': ['Must be 1 to 255 printable ASCII characters.']})
    return key


def fingerprint(body):
    canonical = json.dumps(body, sort_keys=True, separators=(',', ':'),
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(key, request_hash, now):
    """Take the key for this request and return None, or return the stored
    answer of the request that already completed with it."""
    for _ in range(5):
        try:
            with database.atomic():
                IdempotencyKey.create(key=key, request_hash=request_hash,
                                      created_at=now)
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
            return row.response_body
        if row.created_at < now - IN_FLIGHT_LEASE and _take_over(row, now):
            return None
        raise IdempotencyKeyInFlight()
    # Claimed and released over and over by others: as good as in flight.
    raise IdempotencyKeyInFlight()


def _delete_if_unchanged(row):
    (IdempotencyKey.delete()
     .where((IdempotencyKey.key == row.key)
            & (IdempotencyKey.created_at == row.created_at))
     .execute())


def _take_over(row, now):
    taken = (IdempotencyKey.update(created_at=now)
             .where((IdempotencyKey.key == row.key)
                    & (IdempotencyKey.created_at == row.created_at)
                    & IdempotencyKey.response_body.is_null())
             .execute())
    return taken == 1


def complete(key, response_body, order_id):
    """Store the answer; call inside the transaction that creates the order."""
    (IdempotencyKey.update(response_body=response_body, order_id=order_id)
     .where(IdempotencyKey.key == key).execute())


def release(key):
    """Forget a claim whose request failed, so that a retry can run."""
    (IdempotencyKey.delete()
     .where((IdempotencyKey.key == key) & IdempotencyKey.response_body.is_null())
     .execute())
