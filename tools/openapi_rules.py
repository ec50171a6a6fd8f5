"""The request rules, as the OpenAPI document (JSON Schema 2020-12) states them.

Derived from what validates the requests, never written twice by hand:

- a string field's characters: a `pattern` from its validators (FreeText's
  refused characters, `printable`, `not_blank`, an email address's rule);
- a schema's `field_rules` (chalicelib/core/inputs.py): the keyword that says the
  same (`if`/`then`, `dependentRequired`, `not`/`required`, `anyOf`/`required`,
  `multipleOf`, `exclusiveMinimum`/`maximum`);
- a dict's keys (a tax rate's classes): `propertyNames` (tools/openapi.py).

Query parameters stay one parameter each: OpenAPI can tie them together only
as one form-exploded object, which schemathesis (4.32) serialises lossily (an
empty list or object vanishes from the query string, so a request it thinks
invalid arrives valid). `page` or `cursor`, and no other name, are in the
operations' descriptions instead.

Patterns are written for both readings the document meets: ECMA-262 (a
browser, most validators) and Python's re (schemathesis): `\\uXXXX` escapes in
the Basic Multilingual Plane, literal characters above it, no `\\s`, `\\w` or
`\\d` (whose meaning differs between the two). Lone surrogates cannot be
stated: they are not Unicode text, and validators refuse such a pattern; the
service refuses them too, and the description says so."""

import functools
import unicodedata

from marshmallow import validate

from chalicelib.core import money
from chalicelib.core.inputs import (
    AtLeastOne,
    ByValue,
    FitsCurrency,
    FreeText,
    NotTogether,
    OnlyWith,
    Requires,
    not_blank,
    printable,
)

UNICODE_VERSION = unicodedata.unidata_version
_SURROGATES = range(0xD800, 0xE000)
_EVERY_CHARACTER = ''.join(chr(point) for point in range(0x110000) if point not in _SURROGATES)


@functools.cache
def _points(rule):
    """The characters (code points) a one-character rule refuses."""
    if rule is printable:
        return frozenset(ord(c) for c in _EVERY_CHARACTER if not c.isprintable())
    if isinstance(rule, FreeText):
        return frozenset(ord(found.group()) for found in rule.pattern.finditer(_EVERY_CHARACTER))
    raise ValueError(rule)


@functools.cache
def _whitespace():
    # What str.strip() takes away, hence what not_blank does not count.
    return frozenset(ord(c) for c in _EVERY_CHARACTER if c.isspace())


def _escape(point):
    return f'\\u{point:04x}' if point <= 0xFFFF else chr(point)


def character_class(points):
    """`[...]` content for a set of code points, as ranges."""
    ranges = []
    for point in sorted(points):
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return ''.join(
        _escape(low) if low == high else f'{_escape(low)}-{_escape(high)}' for low, high in ranges
    )


def _one_of(refused):
    """A class for one character not in `refused`. Negated while `refused` is
    within the Basic Multilingual Plane; else the characters allowed, listed:
    Hypothesis (schemathesis) builds a negated class above it one character at
    a time, some 900,000 for printable, which takes a minute per field."""
    if max(refused) <= 0xFFFF:
        return f'[^{character_class(refused)}]'
    return f'[{character_class(_ALL - refused)}]'


_ALL = frozenset(ord(c) for c in _EVERY_CHARACTER)


def text_properties(validators):
    """What a free-text field's validators say of its characters: a `pattern`
    for those it refuses and, when it must not be blank, a second one (in
    `allOf`) for a character that is not white space. Two patterns, not one
    that repeats the long class three times: Hypothesis builds each class
    occurrence anew."""
    refused = frozenset().union(
        *(_points(rule) for rule in validators if rule is printable or isinstance(rule, FreeText))
    )
    properties = {}
    if refused:
        properties['pattern'] = f'^{_one_of(refused)}*$'
    if not_blank in validators:
        properties['allOf'] = [{'pattern': _one_of(_whitespace())}]
    return properties


# marshmallow's validate.Email within printable ASCII and without "=?"
# (chalicelib/orders/schemas._plain_address): a dot-atom or quoted local part,
# then a domain with a dot and a last label of two or more characters (so
# 0@0.a is refused), an IPv4 literal, or localhost.
_ATOM = r"[-!#$%&'*+/=?^`{}|~A-Za-z0-9_]+"
_LOCAL = rf'(?:{_ATOM}(?:\.{_ATOM})*|"(?:[!#-\[\]-~]|\\[ -~])*")'
_OCTET = r'(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])'
_DOMAIN = (
    r'(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,}'
    rf'|\[{_OCTET}(?:\.{_OCTET}){{3}}\]|localhost)'
)
EMAIL_PATTERN = rf'^(?!.*=\?){_LOCAL}@{_DOMAIN}$'


def is_email(validators):
    return any(isinstance(rule, validate.Email) for rule in validators)


def _key(schema, name):
    return schema._declared_fields[name].data_key or name


def _fits_currency(schema, rule, when=None):
    """`if` the currency has fewer decimals than money's two, `then` the amount
    is a multiple of its minor unit; `when`: a further condition (a ByValue's),
    merged into the `if` rather than nested, so that a generator (schemathesis)
    meets one level of `if`."""
    amount, currency = _key(schema, rule.amount), _key(schema, rule.currency)
    when = when or {'required': [], 'properties': {}}
    by_places = {}
    for code, places in sorted(money.CURRENCIES.items()):
        by_places.setdefault(places, []).append(code)
    return [
        {
            'if': {
                'required': [*when['required'], currency],
                'properties': {**when['properties'], currency: {'enum': codes}},
            },
            'then': {'properties': {amount: {'multipleOf': 10**-places}}},
        }
        for places, codes in sorted(by_places.items())
        if places < 2  # Money itself allows two
    ]


def _number(value):
    return int(value) if value == int(value) else float(value)


def _by_value(schema, rule):
    field = _key(schema, rule.field)
    when = {'required': [field], 'properties': {field: {'const': rule.value}}}
    then = {}
    if rule.required:
        then['required'] = [_key(schema, name) for name in rule.required]
    if rule.bounded:
        then['properties'] = {
            _key(schema, name): {
                'exclusiveMinimum': _number(low),
                **({} if high is None else {'maximum': _number(high)}),
            }
            for name, low, high in rule.bounded
        }
    if rule.refused:
        refused = [{'required': [_key(schema, name)]} for name in rule.refused]
        then['not'] = refused[0] if len(refused) == 1 else {'anyOf': refused}
    keywords = [{'if': when, 'then': then}] if then else []
    for fits in rule.fits:
        keywords.extend(_fits_currency(schema, fits, when))
    return keywords


def rule_keywords(schema):
    """JSON Schema keywords for a marshmallow schema's field_rules."""
    all_of, dependent = [], {}
    for rule in getattr(schema, 'field_rules', ()):
        if isinstance(rule, OnlyWith):
            all_of.append(
                {
                    'if': {'required': [_key(schema, rule.field)]},
                    'then': {
                        'required': [_key(schema, rule.other)],
                        'properties': {_key(schema, rule.other): {'const': rule.value}},
                    },
                }
            )
        elif isinstance(rule, Requires):
            dependent[_key(schema, rule.field)] = [_key(schema, name) for name in rule.others]
            nullable = [name for name in rule.others if schema._declared_fields[name].allow_none]
            if nullable:
                all_of.append(
                    {
                        'if': {'required': [_key(schema, rule.field)]},
                        'then': {
                            'properties': {
                                _key(schema, name): {'not': {'type': 'null'}} for name in nullable
                            }
                        },
                    }
                )
        elif isinstance(rule, NotTogether):
            names = [_key(schema, name) for name in rule.fields]
            all_of.extend(
                {'not': {'required': [first, second]}}
                for index, first in enumerate(names)
                for second in names[index + 1 :]
            )
        elif isinstance(rule, AtLeastOne):
            all_of.append({'anyOf': [{'required': [_key(schema, name)]} for name in rule.fields]})
        elif isinstance(rule, FitsCurrency):
            all_of.extend(_fits_currency(schema, rule))
        elif isinstance(rule, ByValue):
            all_of.extend(_by_value(schema, rule))
        else:
            raise SystemExit(f'tools/openapi_rules.py cannot state {rule!r}')
    keywords = {}
    if all_of:
        keywords['allOf'] = all_of
    if dependent:
        keywords['dependentRequired'] = dependent
    return keywords
