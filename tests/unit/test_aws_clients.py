"""Requests give SNS one short attempt; the relay's client retries. Checked
on the clients themselves, and by counting the connections a client opens to
a server that hangs up on every request (no AWS, no waiting on timeouts)."""

import socket
import threading

import pytest
from botocore.exceptions import BotoCoreError

from chalicelib.platform import aws


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch):
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'testing')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'testing')
    aws.forget_clients()
    yield
    aws.forget_clients()


class HangingUp:
    """Accepts connections and closes each at once; counts them."""

    def __init__(self):
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.listener.close()


def test_the_request_client_waits_under_a_second_and_tries_once():
    config = aws.client('sns', 'us-east-1', aws.REQUEST).meta.config

    assert (config.connect_timeout, config.read_timeout) == (0.5, 0.8)
    assert config.retries == {'total_max_attempts': 1, 'mode': 'standard'}


def test_the_background_client_retries_three_times_in_standard_mode():
    config = aws.client('sns', 'us-east-1').meta.config

    assert config.retries == {'total_max_attempts': 3, 'mode': 'standard'}
    assert config.read_timeout == 5


def test_a_request_publish_makes_exactly_one_attempt(monkeypatch):
    server = HangingUp()
    monkeypatch.setenv('AWS_ENDPOINT_URL', f'http://127.0.0.1:{server.port}')
    sns = aws.client('sns', 'us-east-1', aws.REQUEST)

    with pytest.raises(BotoCoreError):
        sns.publish(TopicArn='arn:aws:sns:us-east-1:123456789012:t', Message='m')
    server.close()

    assert server.connections == 1
