"""The contract's log lines, read from stdout as CloudWatch would get them:
one JSON object per line with timestamp, level and message, request_id on
HTTP, message_id on SQS, order_id where there is one, the invocation's
cold_start flag, and never a token."""

import json
import logging
import re

import pytest
from aws_lambda_powertools.logging import logger as powertools_logger

from tests.support import LambdaContext, create_order, scheduled_event, send

ISO_Z = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z')


def lines_with(stdout, message_start):
    return [line for line in stdout.logs() if line['message'].startswith(message_start)]


@pytest.fixture
def fresh_container(monkeypatch):
    """The next invocation is the container's first."""
    monkeypatch.setattr(powertools_logger, 'is_cold_start', True)


def test_http_log_lines_carry_the_contract_keys_and_the_lambda_context(client, stdout):
    order = create_order(client, user_email='ada@example.com')

    lines = stdout.logs()
    assert lines
    for line in lines:
        assert ISO_Z.fullmatch(line['timestamp'])
        assert line['level'] in ('INFO', 'WARNING', 'ERROR')
        assert isinstance(line['message'], str)
        assert line['request_id'] == line['function_request_id']
        assert isinstance(line['cold_start'], bool)
        assert line['function_name'] == 'api_handler'
        assert line['service'] == 'orders'
    assert len({line['request_id'] for line in lines}) == 1
    [created] = lines_with(stdout, 'Order created successfully')
    assert created['order_id'] == order['order_id']
    assert list(created)[:3] == ['timestamp', 'level', 'message']


def test_a_scheduled_functions_lines_carry_its_own_lambda_context(app_module, stdout):
    first, second = LambdaContext(), LambdaContext()

    app_module.outbox_relay(scheduled_event(), first)
    app_module.outbox_relay(scheduled_event(), second)

    lines = lines_with(stdout, 'Outbox relay published')
    assert [line['function_request_id'] for line in lines] == [
        first.aws_request_id,
        second.aws_request_id,
    ]
    assert {line['function_name'] for line in lines} == {'orders'}
    assert all('request_id' not in line for line in lines)


def test_cold_start_is_true_for_the_first_invocation_only(client, stdout, fresh_container):
    create_order(client)
    create_order(client)

    first, second = [line for line in lines_with(stdout, 'Creating order')]
    assert (first['cold_start'], second['cold_start']) == (True, False)
    assert first['request_id'] != second['request_id']


def test_a_refused_request_for_an_order_logs_why_and_which_order_but_no_token(client, stdout):
    token = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.'

    response = send(client, 'GET', '/orders/5', headers={'Authorization': f'Bearer {token}'})

    assert response.status_code == 401
    [line] = lines_with(stdout, 'Unauthenticated request: ')
    assert line['level'] == 'WARNING'
    assert line['order_id'] == 5 and line['request_id']
    assert 'eyJ' not in json.dumps(stdout.all())


def test_a_valid_token_never_reaches_the_log(client, stdout, staff_token):
    order = create_order(client, user_email='ada@example.com')
    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'paid'})

    assert stdout.logs() and staff_token not in json.dumps(stdout.all())


def test_keys_of_one_invocation_never_reach_the_next(client, stdout):
    send(client, 'GET', '/orders/5', headers={'Authorization': None})
    create_order(client)

    [refused] = lines_with(stdout, 'Unauthenticated request: ')
    [creating] = lines_with(stdout, 'Creating order')
    assert refused['order_id'] == 5 and 'order_id' not in creating
    assert refused['request_id'] != creating['request_id']


@pytest.mark.parametrize('path', ['/orders/abc', '/orders/00012', '/orders/' + '9' * 30])
def test_a_path_id_that_is_no_order_id_is_not_logged_as_one(client, stdout, path):
    send(client, 'GET', path, headers={'Authorization': None})

    [line] = lines_with(stdout, 'Unauthenticated request: ')
    assert 'order_id' not in line


def test_notifier_lines_carry_message_id_order_id_and_event_id(aws_world, client, stdout):
    order = create_order(client, user_email='ada@example.com')
    [message] = aws_world.receive()
    event = json.loads(json.loads(message['Body'])['Message'])
    stdout.clear()  # the POST's lines: not the notifier's

    client.lambda_.invoke('email_notifier', aws_world.sqs_event([message]))

    lines = stdout.logs()
    [sent] = [line for line in lines if line['message'].startswith('Email sent')]
    assert sent['message_id'] == message['MessageId']
    assert (sent['order_id'], sent['event_id']) == (order['order_id'], event['event_id'])
    assert sent['function_name'] == 'email_notifier'
    assert isinstance(sent['cold_start'], bool) and ISO_Z.fullmatch(sent['timestamp'])
    assert all('request_id' not in line for line in lines)


def test_each_record_logs_its_own_message_id_and_none_is_left_behind(
    aws_world, client, stdout, monkeypatch
):
    create_order(client, user_email='ada@example.com')
    create_order(client, user_email='bob@example.com')
    messages = aws_world.receive()
    from chalicelib.notify import notifier

    def exploding_handle(self, body):
        raise RuntimeError('an error nobody planned for')

    monkeypatch.setattr(notifier.Notifier, 'handle', exploding_handle)
    stdout.clear()

    result = client.lambda_.invoke('email_notifier', aws_world.sqs_event(messages)).payload
    create_order(client)

    assert result == {'batchItemFailures': [{'itemIdentifier': m['MessageId']} for m in messages]}
    errors = [line for line in stdout.logs() if line['level'] == 'ERROR']
    assert [line['message_id'] for line in errors] == [m['MessageId'] for m in messages]
    assert all('RuntimeError: an error nobody planned for' in line['exception'] for line in errors)
    [creating] = lines_with(stdout, 'Creating order')
    assert 'message_id' not in creating


def test_the_stripe_librarys_own_lines_are_json_lines_of_the_request(client, stripe, stdout):
    order = create_order(client, user_email='ada@example.com')
    stdout.clear()

    answer = send(client, 'POST', f'/orders/{order["order_id"]}/payment')

    assert answer.status_code == 200, answer.body
    lines = stdout.logs()
    library = [line for line in lines if 'Request to Stripe api' in line['message']]
    assert library, [line['message'] for line in lines]
    for line in library:
        assert ISO_Z.fullmatch(line['timestamp']) and line['level'] == 'INFO'
        assert line['request_id'] == lines[0]['request_id']
        assert 'sk_test' not in json.dumps(line)


def test_the_aws_sdks_warnings_are_json_lines_and_its_chatter_stays_out(stdout):
    logging.getLogger('botocore.credentials').info('Found credentials in environment variables.')
    logging.getLogger('urllib3.connectionpool').warning('Connection pool is full, discarding')

    [line] = stdout.logs()
    assert (line['level'], line['message']) == ('WARNING', 'Connection pool is full, discarding')
    assert ISO_Z.fullmatch(line['timestamp'])
