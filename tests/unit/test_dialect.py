"""The SQL texts the service writes once are rendered for each database:
placeholders, list expansion and row locks; a `:word` inside a quoted
literal is text, never a placeholder."""

from chalicelib.storage import dialect


def test_placeholders_become_pyformat_for_mariadb():
    assert dialect.render('SELECT 1 FROM t WHERE a = :a AND b = :b_2', sqlite=False) == (
        'SELECT 1 FROM t WHERE a = %(a)s AND b = %(b_2)s'
    )


def test_sqlite_keeps_named_placeholders():
    assert dialect.render('SELECT 1 FROM t WHERE a = :a', sqlite=True) == (
        'SELECT 1 FROM t WHERE a = :a'
    )


def test_a_colon_word_inside_a_string_literal_is_left_alone():
    text = "SELECT 1 FROM t WHERE note = 'at 10:30 see :name' AND a = :a"

    assert dialect.render(text, sqlite=False) == (
        "SELECT 1 FROM t WHERE note = 'at 10:30 see :name' AND a = %(a)s"
    )


def test_a_literal_with_a_doubled_quote_stays_one_literal():
    text = "SELECT 1 FROM t WHERE note = 'it''s :late' AND a = :a"

    assert dialect.render(text, sqlite=False) == (
        "SELECT 1 FROM t WHERE note = 'it''s :late' AND a = %(a)s"
    )


def test_a_colon_word_inside_a_quoted_identifier_is_left_alone():
    assert dialect.render('SELECT "x:y", `p:q` FROM t WHERE a = :a', sqlite=False) == (
        'SELECT "x:y", `p:q` FROM t WHERE a = %(a)s'
    )


def test_a_percent_sign_is_doubled_for_pymysql_even_inside_a_literal():
    assert dialect.render("SELECT 1 FROM t WHERE s LIKE 'a%' AND a = :a", sqlite=False) == (
        "SELECT 1 FROM t WHERE s LIKE 'a%%' AND a = %(a)s"
    )


def test_a_list_placeholder_expands_to_one_per_item_but_not_inside_a_literal():
    text = "SELECT 1 FROM t WHERE id IN (:ids) AND note <> ':ids' AND idsx = :idsx"

    assert dialect.expand_lists(text, {'ids': 3}) == (
        "SELECT 1 FROM t WHERE id IN (:ids_0, :ids_1, :ids_2) AND note <> ':ids' AND idsx = :idsx"
    )


def test_for_update_locks_on_mariadb_only():
    text = 'SELECT a FROM t WHERE id = :id'

    assert dialect.render(text, sqlite=False, for_update=True) == (
        'SELECT a FROM t WHERE id = %(id)s FOR UPDATE'
    )
    assert dialect.render(text, sqlite=True, for_update=True) == text
