"""The rules every request body shares (chalicelib/core/inputs.py) and the bound on
an error answer (chalicelib/core/errors.py), without a database."""

from __future__ import annotations

import pytest
from marshmallow import Schema, ValidationError, fields

from chalicelib.core.errors import MAX_PROBLEMS, InvalidInput
from chalicelib.core.inputs import BoundedList, FreeText


class CountingEntry(fields.Field):
    loaded = 0

    def _deserialize(self, value, attr, data, **kwargs):
        CountingEntry.loaded += 1
        return value


class Basket(Schema):
    items = BoundedList(CountingEntry(), min_length=1, max_length=100)


def test_a_list_over_its_limit_is_refused_before_any_entry_is_loaded():
    CountingEntry.loaded = 0

    with pytest.raises(ValidationError) as refused:
        Basket().load({'items': [{}] * 101})

    assert refused.value.messages == {'items': ['Length must be between 1 and 100.']}
    assert CountingEntry.loaded == 0


def test_a_list_within_its_limit_loads_every_entry():
    CountingEntry.loaded = 0

    assert Basket().load({'items': [1] * 100}) == {'items': [1] * 100}
    assert CountingEntry.loaded == 100


def test_an_empty_list_is_refused_by_the_same_rule():
    with pytest.raises(ValidationError) as refused:
        Basket().load({'items': []})

    assert refused.value.messages == {'items': ['Length must be between 1 and 100.']}


def test_an_error_lists_at_most_100_problems_and_says_how_many_there_were():
    problems = {
        'items': {index: {'quantity': ['bad'], 'product_id': ['bad']} for index in range(150)}
    }

    error = InvalidInput('Invalid order', problems)

    kept = [
        message
        for entry in error.errors['items'].values()
        for messages in entry.values()
        for message in messages
    ]
    assert len(kept) == MAX_PROBLEMS
    assert str(error) == 'Invalid order (300 problems; the first 100 are listed)'


def test_an_error_of_100_problems_is_left_whole():
    problems = {f'field{index}': ['Unknown field.'] for index in range(100)}

    error = InvalidInput('Invalid order', problems)

    assert error.errors == problems
    assert str(error) == 'Invalid order'


def test_a_long_field_name_is_cut_where_the_error_echoes_it():
    error = InvalidInput('Invalid order', {'x' * 5000: ['Unknown field.']})

    (key,) = error.errors
    assert len(key) == 101 and key.startswith('x' * 100)


REFUSED_ANYWHERE = {
    'lone high surrogate': 'oops \ud800',
    'lone low surrogate': '\udc00 oops',
    'NUL': 'a\x00b',
    'escape (C0)': 'a\x1b[2Jb',
    'DEL': 'a\x7fb',
    'next line (C1)': 'a\x85b',
    'CSI (C1)': 'a\x9bb',
    'right-to-left override': '\u202egnp.exe',
    'left-to-right embedding': 'a\u202ab',
    'pop directional formatting': 'a\u202cb',
    'first strong isolate': 'a\u2068b',
    'pop directional isolate': 'a\u2069b',
    'zero width space': 'pay\u200bpal',
    'word joiner': 'a\u2060b',
    'byte order mark': '\ufeffhello',
}


@pytest.mark.parametrize('multi_line', [True, False])
@pytest.mark.parametrize('text', REFUSED_ANYWHERE.values(), ids=REFUSED_ANYWHERE.keys())
def test_free_text_refuses_controls_surrogates_bidi_and_invisible_characters(text, multi_line):
    with pytest.raises(ValidationError) as refused:
        FreeText(multi_line=multi_line)(text)

    assert 'Found U+' in refused.value.messages[0]


@pytest.mark.parametrize('text', ['Ordered twice.\r\nSorry!', 'a\tb', 'line\nline'])
def test_multi_line_free_text_allows_tabs_and_line_breaks(text):
    assert FreeText(multi_line=True)(text) == text


@pytest.mark.parametrize('text', ['a\tb', 'line\nline', 'a\rb'])
def test_one_line_free_text_refuses_tabs_and_line_breaks(text):
    with pytest.raises(ValidationError):
        FreeText()(text)


@pytest.mark.parametrize(
    'text',
    [
        'Déjà commandé 😅',
        'می\u200cخواهم',
        '👨\u200d👩\u200d👧',
        'שלום עליכם',
        '日本郵便',
        'DHL <Express> & "Co"',
    ],
)
def test_free_text_allows_any_script_joiners_and_emoji(text):
    assert FreeText()(text) == text
    assert FreeText(multi_line=True)(text) == text
