"""Flat tax rates by destination zone, kept by staff: a country (DE) or a
country and subdivision (US-CA). An order is taxed at the rates of its
destination's most precise zone that has any (US-CA, else US), and not at
all where none has. The SQL is kept here, beside its one user."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.clock import utc_iso, utcnow
from chalicelib.core.errors import Forbidden, InvalidInput, TaxRateNotFound
from chalicelib.identity.principal import STAFF, Principal
from chalicelib.orders.totals import TaxZone
from chalicelib.platform.logs import log
from chalicelib.storage import statements
from chalicelib.storage.connection import database, retry_when_busy
from chalicelib.storage.model_rows import column_list
from chalicelib.storage.models import TaxRate

_COLUMNS = column_list(TaxRate)
ZONES_IN = statements.Statement(TaxRate, f'SELECT {_COLUMNS} FROM tax_rates WHERE zone IN (:zones)')
ZONE_FOR_UPDATE = statements.Statement(
    TaxRate, f'SELECT {_COLUMNS} FROM tax_rates WHERE zone = :zone', for_update=True
)
ALL_ZONES = statements.Statement(TaxRate, f'SELECT {_COLUMNS} FROM tax_rates ORDER BY zone')
REPLACE = statements.Statement(
    TaxRate,
    'UPDATE tax_rates SET name = :name, rates = :rates, shipping = :shipping, '
    'updated_at = :updated_at WHERE zone = :zone',
)
DELETE = statements.Statement(TaxRate, 'DELETE FROM tax_rates WHERE zone = :zone')


_ZONE = re.compile(r'[A-Z]{2}(-[A-Z0-9]{1,3})?')


def path_zone(value: str) -> str:
    """A zone in a path: a country (DE) or a country and subdivision (US-CA)."""
    if not _ZONE.fullmatch(value):
        raise InvalidInput(
            'Invalid zone',
            {'zone': ['Must be an ISO 3166-1 country (DE) or a country and region (US-CA).']},
        )
    return value


@dataclass(frozen=True)
class PutTaxRate:
    """A PUT /tax-rates/{zone} body, as the schema loads it."""

    name: str
    rates: dict[str, Decimal]
    shipping: bool


@dataclass(frozen=True)
class Written:
    body: dict[str, Any]
    created: bool


def zone_for(zones: Sequence[str]) -> TaxZone | None:
    """The rates of the first of `zones` (most precise first) that has any."""
    found = {row.zone: row for row in statements.fetch(ZONES_IN, zones=list(zones))}
    for zone in zones:
        if zone in found:
            row = found[zone]
            return TaxZone(rates=_rates(row.rates), shipping=bool(row.shipping))
    return None


def _rates(text: str) -> dict[str, Decimal]:
    return {name: Decimal(rate) for name, rate in json.loads(text).items()}


def dump(row: TaxRate) -> dict[str, Any]:
    return {
        'zone': row.zone,
        'name': row.name,
        'rates': {name: float(rate) for name, rate in _rates(row.rates).items()},
        'shipping': bool(row.shipping),
        'updated_at': utc_iso(row.updated_at),
    }


def _check_staff(principal: Principal) -> None:
    if principal.role != STAFF:
        raise Forbidden('Only staff may read or change tax rates')


class TaxRateService:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock

    def get(self, principal: Principal, zone: str) -> dict[str, Any]:
        _check_staff(principal)
        rows = statements.fetch(ZONES_IN, zones=[zone])
        if not rows:
            raise TaxRateNotFound()
        return dump(rows[0])

    def list(self, principal: Principal) -> dict[str, Any]:
        """Every zone, by zone: a shop has a few hundred at most."""
        _check_staff(principal)
        rows = statements.fetch(ALL_ZONES)
        return {'tax_rates': [dump(row) for row in rows], 'total': len(rows)}

    @retry_when_busy
    def put(self, principal: Principal, zone: str, command: PutTaxRate) -> Written:
        _check_staff(principal)
        values = {
            'zone': zone,
            'name': command.name,
            # As text: a rate read back is the rate written, to its last decimal.
            'rates': json.dumps({name: str(rate) for name, rate in command.rates.items()}),
            'shipping': command.shipping,
            'updated_at': self.clock(),
        }
        with database.atomic():
            created = not statements.fetch(ZONE_FOR_UPDATE, zone=zone)
            if created:
                statements.insert(TaxRate, [values])
            else:
                statements.run(REPLACE, **values)
            row = statements.fetch(ZONES_IN, zones=[zone])[0]
        log.info('Tax rates %s: zone=%s', 'created' if created else 'replaced', zone)
        return Written(dump(row), created)

    @retry_when_busy
    def delete(self, principal: Principal, zone: str) -> None:
        _check_staff(principal)
        with database.atomic():
            if statements.run(DELETE, zone=zone).rowcount == 0:
                raise TaxRateNotFound()
        log.info('Tax rates deleted: zone=%s', zone)
