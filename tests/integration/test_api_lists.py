"""GET /orders and GET /users/{id}/orders: order, totals, filters, page numbers
and keyset cursors, on SQLite and MariaDB (parameters the schema refuses before
any query, on SQLite only)."""

from urllib.parse import urlencode

import pytest

from chalicelib.orders.schemas import MAX_ID
from tests.support import create_order, field_errors, json_of, send, sqlite_only


def listing(client, path='/orders', **params):
    query = urlencode({k: v for k, v in params.items() if v is not None})
    response = client.http.get(f'{path}?{query}' if query else path)
    assert response.status_code == 200, response.body
    return json_of(response)


def bad_query(client, path='/orders', **params):
    return field_errors(client.http.get(f'{path}?{urlencode(params)}'))


def ids(page):
    return [order['order_id'] for order in page['orders']]


def set_status(client, order, status):
    response = send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': status})
    assert response.status_code == 200, response.body
    return json_of(response)


def orders_for(client, user_ids):
    """Create one order per user id, in this order; return their ids."""
    return [create_order(client, user_id=user_id)['order_id'] for user_id in user_ids]


def walk(client, path='/orders', page_size=3, **filters):
    """Every page by following next_cursor from the first; the pages' ids."""
    page = listing(client, path, page_size=page_size, **filters)
    pages = [page]
    while page['next_cursor'] is not None:
        page = listing(client, path, cursor=page['next_cursor'], page_size=page_size)
        pages.append(page)
    return pages


# -- GET /orders ---------------------------------------------------------------


def test_list_answers_orders_total_page_page_size_and_next_cursor(client):
    created = create_order(client)

    page = listing(client)

    assert set(page) == {'orders', 'total', 'page', 'page_size', 'next_cursor'}
    assert page['orders'] == [created]
    assert (page['total'], page['page'], page['page_size'], page['next_cursor']) == (1, 1, 10, None)


def test_list_of_no_orders_is_empty(client):
    page = listing(client)

    assert page['orders'] == [] and page['total'] == 0 and page['next_cursor'] is None


def test_list_is_newest_first(client):
    created = orders_for(client, [1, 2, 3, 4])

    assert ids(listing(client)) == list(reversed(created))


def test_list_default_page_size_is_10_and_total_counts_every_order(client):
    created = orders_for(client, [1] * 11)

    page = listing(client)

    assert page['page_size'] == 10
    assert ids(page) == list(reversed(created))[:10]
    assert page['total'] == 11


def test_list_second_page_holds_the_rest(client):
    created = orders_for(client, [1] * 5)

    page = listing(client, page=2, page_size=3)

    assert ids(page) == list(reversed(created))[3:]
    assert (page['page'], page['page_size'], page['total']) == (2, 3, 5)
    assert page['next_cursor'] is None


def test_list_page_beyond_the_last_is_empty_with_the_right_total(client):
    orders_for(client, [1, 2, 3])

    page = listing(client, page=5, page_size=2)

    assert page['orders'] == []
    assert page['total'] == 3
    assert page['next_cursor'] is None


def test_list_page_whose_offset_is_the_largest_that_fits_is_empty(client):
    orders_for(client, [1])
    page = MAX_ID // 100 + 1

    body = listing(client, page=page, page_size=100)

    assert body['orders'] == [] and body['total'] == 1


@pytest.mark.parametrize('size', [1, 100])
def test_list_page_size_edges_are_accepted(client, size):
    created = orders_for(client, [1, 2, 3])

    page = listing(client, page_size=size)

    assert ids(page) == list(reversed(created))[:size]
    assert page['page_size'] == size and page['total'] == 3


@sqlite_only
def test_list_page_size_outside_1_to_100_returns_400(client, subtests):
    for size in ['0', '101', '-1', 'ten', '1.5']:
        with subtests.test(size):
            assert set(bad_query(client, page_size=size)) == {'page_size'}


@sqlite_only
def test_list_page_below_1_or_overflowing_returns_400(client, subtests):
    for page in ['0', '-1', 'one', str(10**20), str(MAX_ID)]:
        with subtests.test(page):
            assert set(bad_query(client, page=page)) == {'page'}


@sqlite_only
def test_list_unknown_parameter_returns_400(client):
    assert bad_query(client, sort='asc') == {'sort': ['Unknown field.']}


@sqlite_only
def test_list_unknown_parameter_with_an_empty_value_returns_400(client):
    # Empty values stand for "no filter" only for the filters a list has.
    assert bad_query(client, sort='') == {'sort': ['Unknown field.']}


def test_list_empty_parameter_values_are_ignored(client):
    created = orders_for(client, [1, 2])

    page = listing(client, status='', user_id='', page='', page_size='')

    assert ids(page) == list(reversed(created)) and page['page_size'] == 10


def test_list_filters_by_status_and_counts_only_matches(client):
    a, b, c, d = (create_order(client) for _ in range(4))
    set_status(client, a, 'paid')
    set_status(client, c, 'paid')
    set_status(client, d, 'cancelled')

    paid = listing(client, status='paid')
    pending = listing(client, status='pending')

    assert ids(paid) == [c['order_id'], a['order_id']] and paid['total'] == 2
    assert ids(pending) == [b['order_id']] and pending['total'] == 1
    assert all(o['status'] == 'paid' for o in paid['orders'])


def test_list_filters_by_user_id(client):
    created = orders_for(client, [5, 6, 5, 7, 5])

    page = listing(client, user_id=5)

    assert ids(page) == [created[4], created[2], created[0]]
    assert page['total'] == 3


def test_list_filters_by_status_and_user_id_together(client):
    mine = [create_order(client, user_id=5) for _ in range(3)]
    theirs = create_order(client, user_id=6)
    set_status(client, mine[0], 'shipped')
    set_status(client, mine[2], 'shipped')
    set_status(client, theirs, 'shipped')

    page = listing(client, user_id=5, status='shipped')

    assert ids(page) == [mine[2]['order_id'], mine[0]['order_id']]
    assert page['total'] == 2


def test_list_filter_matching_nothing_is_empty(client):
    orders_for(client, [1])

    page = listing(client, status='delivered')

    assert page['orders'] == [] and page['total'] == 0


@sqlite_only
def test_list_bad_filter_returns_400(client, subtests):
    for params in [
        {'status': 'lost'},
        {'user_id': '0'},
        {'user_id': str(MAX_ID + 1)},
        {'user_id': 'x'},
    ]:
        with subtests.test(**params):
            assert set(bad_query(client, **params)) == set(params)


def test_list_totals_follow_status_changes_and_deletes(client):
    a, b, c = (create_order(client) for _ in range(3))
    set_status(client, a, 'paid')
    set_status(client, a, 'shipped')
    set_status(client, b, 'paid')
    client.http.delete(f'/orders/{c["order_id"]}')
    client.http.delete(f'/orders/{b["order_id"]}')

    assert listing(client)['total'] == 1
    assert listing(client, status='shipped')['total'] == 1
    assert listing(client, status='paid')['total'] == 0
    assert listing(client, status='pending')['total'] == 0


def test_list_total_unchanged_by_a_refused_status_change(client):
    order = create_order(client)
    set_status(client, order, 'cancelled')
    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'paid'})
    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'cancelled'})

    assert listing(client, status='cancelled')['total'] == 1
    assert listing(client, status='paid')['total'] == 0
    assert listing(client)['total'] == 1


# -- GET /users/{id}/orders --------------------------------------------------------


def test_user_orders_are_only_that_users_newest_first(client):
    created = orders_for(client, [5, 6, 5, 6, 5])

    page = listing(client, '/users/5/orders')

    assert ids(page) == [created[4], created[2], created[0]]
    assert all(o['user_id'] == 5 for o in page['orders'])
    assert page['total'] == 3 and page['page'] == 1 and page['page_size'] == 10


def test_user_with_no_orders_has_an_empty_list(client):
    orders_for(client, [5])

    page = listing(client, '/users/6/orders')

    assert page == {'orders': [], 'total': 0, 'page': 1, 'page_size': 10, 'next_cursor': None}


def test_user_orders_page_numbers(client):
    created = orders_for(client, [5] * 5)

    page = listing(client, '/users/5/orders', page=2, page_size=2)

    assert ids(page) == [created[2], created[1]]
    assert page['total'] == 5 and page['next_cursor'] is not None


def test_orders_of_the_largest_user_id_are_an_empty_list(client):
    orders_for(client, [1])

    page = listing(client, f'/users/{MAX_ID}/orders')

    assert page['orders'] == [] and page['total'] == 0


@sqlite_only
def test_user_orders_bad_paging_returns_400(client, subtests):
    for params in [
        {'page_size': '0'},
        {'page_size': '101'},
        {'page': '0'},
        {'page': '1', 'cursor': 'abc'},
        {'cursor': 'abc'},
    ]:
        with subtests.test(**params):
            errors = bad_query(client, '/users/5/orders', **params)
            assert set(errors) <= set(params)


# -- keyset paging ---------------------------------------------------------------


def test_next_cursor_is_present_when_more_rows_and_null_on_the_last_page(client):
    orders_for(client, [1] * 4)

    first = listing(client, page_size=2)
    last = listing(client, cursor=first['next_cursor'], page_size=2)

    assert isinstance(first['next_cursor'], str) and first['next_cursor']
    assert len(last['orders']) == 2
    assert last['next_cursor'] is None


def test_next_cursor_is_null_when_the_page_holds_exactly_the_rest(client):
    orders_for(client, [1] * 3)

    assert listing(client, page_size=3)['next_cursor'] is None


def test_following_cursors_walks_every_order_once_in_page_order(client):
    created = orders_for(client, [1] * 8)

    pages = walk(client, page_size=3)
    numbered = [listing(client, page=n, page_size=3) for n in (1, 2, 3)]

    walked = [i for page in pages for i in ids(page)]
    assert walked == list(reversed(created))
    assert [ids(p) for p in pages] == [ids(p) for p in numbered]
    assert all(page['total'] == 8 for page in pages)
    assert [len(p['orders']) for p in pages] == [3, 3, 2]
    assert [p['page'] for p in pages] == [1, None, None]


def test_an_order_created_between_pages_does_not_shift_the_next_pages(client):
    created = orders_for(client, [1] * 6)
    first = listing(client, page_size=2)

    newcomer = create_order(client)['order_id']
    second = listing(client, cursor=first['next_cursor'], page_size=2)
    third = listing(client, cursor=second['next_cursor'], page_size=2)

    newest_first = list(reversed(created))
    assert ids(second) == newest_first[2:4]
    assert ids(third) == newest_first[4:6]
    assert newcomer not in ids(second) + ids(third)
    assert third['next_cursor'] is None


def test_an_order_deleted_between_pages_is_skipped_without_repeating_others(client):
    created = orders_for(client, [1] * 6)
    first = listing(client, page_size=2)
    newest_first = list(reversed(created))

    client.http.delete(f'/orders/{newest_first[2]}')
    second = listing(client, cursor=first['next_cursor'], page_size=2)

    assert ids(second) == newest_first[3:5]


def test_cursor_remembers_the_status_filter(client):
    orders = [create_order(client) for _ in range(5)]
    for order in orders[::2]:
        set_status(client, order, 'paid')

    pages = walk(client, page_size=2, status='paid')

    walked = [i for page in pages for i in ids(page)]
    assert walked == [o['order_id'] for o in reversed(orders[::2])]
    assert all(o['status'] == 'paid' for page in pages for o in page['orders'])
    assert all(page['total'] == 3 for page in pages)


def test_cursor_remembers_the_user_id_filter(client):
    created = orders_for(client, [5, 6, 5, 6, 5, 6, 5])

    pages = walk(client, page_size=2, user_id=5)

    assert [i for page in pages for i in ids(page)] == [
        created[6],
        created[4],
        created[2],
        created[0],
    ]


def test_cursor_walks_a_users_orders(client):
    created = orders_for(client, [5, 6, 5, 5, 6, 5])

    pages = walk(client, '/users/5/orders', page_size=3)

    assert [i for page in pages for i in ids(page)] == [
        created[5],
        created[3],
        created[2],
        created[0],
    ]
    assert all(page['total'] == 4 for page in pages)


def test_cursor_with_the_same_filter_repeated_is_accepted(client):
    orders = [create_order(client, user_id=5) for _ in range(3)]
    for order in orders:
        set_status(client, order, 'paid')
    first = listing(client, page_size=1, status='paid', user_id=5)

    second = listing(client, cursor=first['next_cursor'], page_size=1, status='paid', user_id=5)

    assert ids(second) == [orders[1]['order_id']]


def test_next_cursor_of_a_numbered_page_leads_to_the_next_page(client):
    created = orders_for(client, [1] * 7)
    second = listing(client, page=2, page_size=2)

    after = listing(client, cursor=second['next_cursor'], page_size=2)

    assert ids(after) == ids(listing(client, page=3, page_size=2))
    assert ids(after) == list(reversed(created))[4:6]


def test_cursor_page_size_may_change_between_pages(client):
    created = orders_for(client, [1] * 6)
    first = listing(client, page_size=2)

    rest = listing(client, cursor=first['next_cursor'], page_size=10)

    assert ids(rest) == list(reversed(created))[2:]


def test_cursor_with_page_returns_400(client):
    orders_for(client, [1] * 3)
    cursor = listing(client, page_size=1)['next_cursor']

    assert set(bad_query(client, cursor=cursor, page='2')) == {'page'}


@sqlite_only
def test_malformed_cursor_returns_400(client, subtests):
    # garbage, {"after":0}, {"after": "1"}, []
    for cursor in ['not-a-cursor', '!!!', 'eyJhZnRlciI6MH0', 'eyJhZnRlciI6ICIxIn0', 'W10']:
        with subtests.test(cursor):
            assert bad_query(client, cursor=cursor) == {'cursor': ['Not a valid cursor.']}


def test_cursor_with_a_different_status_filter_returns_400(client):
    orders = [create_order(client) for _ in range(3)]
    for order in orders:
        set_status(client, order, 'paid')
    cursor = listing(client, page_size=1, status='paid')['next_cursor']

    assert set(bad_query(client, cursor=cursor, status='pending')) == {'status'}


def test_cursor_without_a_filter_refuses_one_added_later(client):
    orders_for(client, [1] * 3)
    cursor = listing(client, page_size=1)['next_cursor']

    assert set(bad_query(client, cursor=cursor, status='pending')) == {'status'}


def test_cursor_of_one_user_is_refused_for_another(client):
    orders_for(client, [5] * 3)
    cursor = listing(client, '/users/5/orders', page_size=1)['next_cursor']

    assert set(bad_query(client, '/users/6/orders', cursor=cursor)) == {'user_id'}


def test_cursor_of_the_user_filter_is_refused_with_a_different_user_id(client):
    orders_for(client, [5] * 3)
    cursor = listing(client, page_size=1, user_id=5)['next_cursor']

    assert set(bad_query(client, cursor=cursor, user_id=6)) == {'user_id'}
