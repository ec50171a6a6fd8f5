"""A request's bookkeeping after its commit (marking its event published, or
handing it to the relay) never fails the request, and keeps a connection the
server only said was busy."""

from types import SimpleNamespace

import peewee
import pytest

from chalicelib.events import outbox
from chalicelib.storage import connection


@pytest.fixture
def discarded(monkeypatch):
    calls = []
    monkeypatch.setattr(connection, 'discard_connection', lambda: calls.append('discarded'))
    return calls


def failing_with(code):
    def run(*args, **kwargs):
        raise peewee.OperationalError(code, 'from the server')

    return run


@pytest.mark.parametrize(
    'bookkeeping',
    [
        lambda: outbox.mark_published_quietly([(SimpleNamespace(id=1), 'm-1')], None),
        lambda: outbox.hand_to_relay_quietly([SimpleNamespace(id=1)]),
    ],
)
@pytest.mark.parametrize('code, kept', [(1205, True), (1213, True), (2013, False)])
def test_a_failed_bookkeeping_write_is_quiet_and_drops_only_a_broken_connection(
    monkeypatch, discarded, bookkeeping, code, kept
):
    # The mark is sent without waiting (statements.send), the hand-over run.
    monkeypatch.setattr(outbox.statements, 'run', failing_with(code))
    monkeypatch.setattr(outbox.statements, 'send', failing_with(code))

    bookkeeping()  # does not raise

    assert discarded == ([] if kept else ['discarded'])
