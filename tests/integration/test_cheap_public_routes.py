"""What anyone may call without a token stays cheap: /health reuses the warm
container's database connection (one ping at most, never a new sign-in),
and the API reference is cacheable."""

import pytest

from chalicelib.storage import connection


@pytest.fixture
def connections_opened(client, monkeypatch):
    """How many connections the service opens from now on (the container is warm)."""
    assert client.http.get('/health').status_code == 200
    database = connection.database.obj
    opened = []
    connect = database._connect
    monkeypatch.setattr(database, '_connect', lambda: opened.append(1) or connect())
    return opened


def test_health_once_warm_opens_no_new_connection(client, connections_opened, monkeypatch):
    # Each call after an idle second, as an uptime check would: a ping, not a sign-in.
    from chalicelib.core import clock

    now = [clock.monotonic()]
    monkeypatch.setattr(clock, 'monotonic', lambda: now[0])
    for _ in range(5):
        now[0] += 60
        assert client.http.get('/health').status_code == 200

    assert connections_opened == []


def test_docs_and_the_openapi_document_may_be_cached(client):
    for path in ('/docs', '/openapi.json'):
        response = client.http.get(path)

        assert response.status_code == 200
        assert response.headers['Cache-Control'] == 'public, max-age=300', path


def test_health_from_a_new_thread_each_time_opens_no_new_connection(client, connections_opened):
    # chalice local (make run) serves every request in a thread of its own.
    import threading

    answers = []
    for _ in range(5):
        thread = threading.Thread(
            target=lambda: answers.append(client.http.get('/health').status_code)
        )
        thread.start()
        thread.join()

    assert answers == [200] * 5
    assert connections_opened == []
