"""metrics.emit: one EMF line on stdout per call, in the OrdersService
namespace, with the stage (ENVIRONMENT) as its only dimension."""

import json

import pytest

from chalicelib.platform import metrics
from chalicelib.platform.config import get_settings


@pytest.fixture
def stage(monkeypatch):
    def use(name):
        monkeypatch.setenv('ENVIRONMENT', name)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def emitted(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_metric_is_one_emf_line_with_the_stage_dimension(capsys, stage):
    stage('prod')

    metrics.emit('OrdersCreated', 1)

    [line] = emitted(capsys)
    assert line['_aws']['CloudWatchMetrics'] == [
        {
            'Namespace': 'OrdersService',
            'Dimensions': [['stage']],
            'Metrics': [{'Name': 'OrdersCreated', 'Unit': 'Count'}],
        }
    ]
    assert isinstance(line['_aws']['Timestamp'], int)
    assert (line['stage'], line['OrdersCreated']) == ('prod', [1.0])


def test_dev_and_prod_are_two_metrics_not_one(capsys, stage):
    stage('dev')
    metrics.emit('EmailsSent', 1)
    stage('prod')
    metrics.emit('EmailsSent', 1)

    assert [line['stage'] for line in emitted(capsys)] == ['dev', 'prod']


def test_a_unit_other_than_count_is_kept(capsys, stage):
    stage('dev')

    metrics.emit('OutboxPendingAgeSeconds', 12.5, unit='Seconds')

    [line] = emitted(capsys)
    assert line['_aws']['CloudWatchMetrics'][0]['Metrics'] == [
        {'Name': 'OutboxPendingAgeSeconds', 'Unit': 'Seconds'}
    ]
    assert line['OutboxPendingAgeSeconds'] == [12.5]


def test_a_unit_cloudwatch_does_not_know_is_refused(stage):
    stage('dev')

    with pytest.raises(ValueError, match='not a CloudWatch unit'):
        metrics.emit('OrdersCreated', 1, unit='Orders')


@pytest.mark.parametrize(
    ('env', 'reported'),
    [
        ({}, 'local'),
        ({'ENVIRONMENT': 'local'}, 'local'),
        ({'AWS_LAMBDA_FUNCTION_NAME': 'orders-dev'}, 'dev'),
        ({'ENVIRONMENT': 'prod', 'AWS_LAMBDA_FUNCTION_NAME': 'orders-prod'}, 'prod'),
        ({'ENVIRONMENT': 'prod'}, 'prod'),
    ],
    ids=['make relay', 'make run', 'dev Lambda', 'prod Lambda', 'operator on prod'],
)
def test_a_run_outside_lambda_reports_its_own_stage_not_dev(monkeypatch, capsys, env, reported):
    for name in ('ENVIRONMENT', 'AWS_LAMBDA_FUNCTION_NAME'):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    metrics.emit('OutboxPublished', 1)

    [line] = emitted(capsys)
    assert line['stage'] == reported
    get_settings.cache_clear()
