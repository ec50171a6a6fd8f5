"""make run's scheduler (tools/local_schedule.py): app.py's schedules as it
reads them, the Lambda call it makes, and its order of runs."""

import types

import pytest

import app
from tools import local_schedule


def test_it_reads_every_scheduled_function_and_its_rate_from_the_app():
    assert dict(local_schedule.schedules(app.app)) == {
        'outbox_relay': 60,
        'refund_relay': 60,
        'expire_unpaid': 60,
        'housekeeping': 3600,
    }


def test_a_function_is_called_as_lambda_calls_it_with_a_3_second_budget():
    calls = []

    def handler(event, context):
        calls.append((event, context.function_name, context.get_remaining_time_in_millis()))

    module = types.SimpleNamespace(app=types.SimpleNamespace(app_name='orders'), relay=handler)
    local_schedule.invoke(module, 'relay')
    ((event, name, left),) = calls
    assert event['detail-type'] == 'Scheduled Event' and event['source'] == 'aws.events'
    assert name == 'orders-local-relay'
    assert 2900 < left <= 3000


class Stop(Exception):
    pass


def test_each_function_runs_at_start_then_once_per_period_and_a_failure_stops_nothing(
    monkeypatch,
):
    now = [0.0]
    ran = []

    def sleep(seconds):
        if now[0] + seconds > 7200:
            raise Stop
        now[0] += seconds

    def invoke(module, name):
        ran.append((now[0], name))
        if name == 'housekeeping':
            raise RuntimeError('the database is down')

    monkeypatch.setattr(local_schedule, 'invoke', invoke)
    with pytest.raises(Stop):
        local_schedule.run(app, clock=lambda: now[0], sleep=sleep)
    assert sorted(at for at, name in ran if name == 'housekeeping') == [0, 3600, 7200]
    assert sorted(at for at, name in ran if name == 'outbox_relay') == [60 * n for n in range(121)]
