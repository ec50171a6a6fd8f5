"""What an operator gets from the packaged template: alarms, the dashboard,
encryption at rest, access logs, and checkov's verdict.

The metric names come from the code: every `metrics.emit('Name', ...)` call
under chalicelib/ and app.py is found by reading the source (each must name
its metric with a literal), so an alarm or a widget on a metric nothing
emits, or a failure metric nobody watches, fails here."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from tests.support_package import ROOT

pytestmark = pytest.mark.slow

NAMESPACE = 'OrdersService'
# The stage dimension of the service's metrics: the stack is orders-<stage>.
STAGE_FROM_STACK_NAME = {'Fn::Select': [1, {'Fn::Split': ['orders-', {'Ref': 'AWS::StackName'}]}]}
# Emitted metrics that count something going wrong or late: each needs an alarm.
MUST_ALARM = re.compile(r'(Failures|Mismatches|Retries|AgeSeconds)$')
ALARM_ACTIONS = {'Fn::If': ['HasAlarmTopic', [{'Ref': 'AlarmTopicArn'}], {'Ref': 'AWS::NoValue'}]}
RUNBOOK = ROOT / 'docs' / 'operations.md'
CHECKOV = Path(os.environ.get('CHECKOV') or ROOT / '.venv-tools' / 'bin' / 'checkov')


def emitted_metrics() -> set[str]:
    """The names of every metrics.emit call in the service's code."""
    names = set()
    for path in [ROOT / 'app.py', *sorted((ROOT / 'chalicelib').rglob('*.py'))]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == 'emit'
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == 'metrics'
            ):
                name = node.args[0] if node.args else None
                assert isinstance(name, ast.Constant) and isinstance(name.value, str), (
                    f'{path}:{node.lineno}: name the metric with a string literal'
                )
                names.add(name.value)
    return names


def _alarms(packaged) -> dict[str, dict[str, Any]]:
    return packaged.of_type('AWS::CloudWatch::Alarm')


def _alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """(Namespace, MetricName, Dimensions) of a plain alarm or a metric-math one."""
    if 'Metrics' in alarm:
        return [
            query['MetricStat']['Metric'] for query in alarm['Metrics'] if 'MetricStat' in query
        ]
    return [{key: alarm[key] for key in ('Namespace', 'MetricName', 'Dimensions')}]


def _service_alarms(packaged) -> dict[str, dict[str, Any]]:
    return {
        metric['MetricName']: alarm
        for alarm in _alarms(packaged).values()
        for metric in _alarm_metrics(alarm)
        if metric['Namespace'] == NAMESPACE
    }


def _function_alarms(packaged, metric_name: str) -> dict[str, dict[str, Any]]:
    """Function logical id -> its alarm on AWS/Lambda metric_name."""
    found = {}
    for alarm in _alarms(packaged).values():
        for metric in _alarm_metrics(alarm):
            if metric['Namespace'] == 'AWS/Lambda' and metric['MetricName'] == metric_name:
                [dimension] = metric['Dimensions']
                assert dimension['Name'] == 'FunctionName'
                found[dimension['Value']['Ref']] = alarm
    return found


def _functions(packaged) -> dict[str, dict[str, Any]]:
    return packaged.of_type('AWS::Serverless::Function')


def _every_minute(packaged) -> set[str]:
    return {
        name
        for name, props in _functions(packaged).items()
        for event in props.get('Events', {}).values()
        if event['Type'] == 'Schedule' and event['Properties']['Schedule'] == 'rate(1 minute)'
    }


def _scheduled(packaged) -> set[str]:
    return {
        name
        for name, props in _functions(packaged).items()
        for event in props.get('Events', {}).values()
        if event['Type'] == 'Schedule'
    }


def dashboard(packaged) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dashboard body with every ${...} left as a marker, and its Sub variables."""
    body, variables = packaged.props('Dashboard')['DashboardBody']['Fn::Sub']
    # A number slot (a threshold) must stay valid JSON: markers become strings.
    marked = re.sub(r'(?<!")\$\{([^}]+)\}(?!")', r'"${\1}"', body)
    return json.loads(marked), variables


def _widget_metrics(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, str], dict]]:
    """(namespace, name, dimensions, options) of each line; "." repeats the line above."""
    lines, previous = [], []
    for entry in widget['properties']['metrics']:
        options = entry[-1] if isinstance(entry[-1], dict) else {}
        parts = entry[:-1] if options else entry
        parts = [previous[index] if part == '.' else part for index, part in enumerate(parts)]
        previous = parts
        dimensions = dict(zip(parts[2::2], parts[3::2], strict=False))
        lines.append((parts[0], parts[1], dimensions, options))
    return lines


def _dashboard_lines(packaged):
    body, _ = dashboard(packaged)
    return [(widget, line) for widget in body['widgets'] for line in _widget_metrics(widget)]


def _runbook_sections() -> set[str]:
    return {
        match.group(1).strip()
        for match in re.finditer(r'^#{2,4} (.+)$', RUNBOOK.read_text(), re.MULTILINE)
    }


# --- Alarms -----------------------------------------------------------------


def test_every_metric_counting_a_failure_or_a_delay_has_an_alarm(packaged):
    must = {name for name in emitted_metrics() if MUST_ALARM.search(name)}
    assert {
        'EventPublishFailures',
        'EmailSendFailures',
        'TransactionRetries',
        'OutboxPendingAgeSeconds',
    } <= must

    assert must <= set(_service_alarms(packaged))


def test_service_alarms_watch_only_metrics_the_code_emits_on_its_stage(packaged):
    emitted = emitted_metrics()
    for name, alarm in _service_alarms(packaged).items():
        assert name in emitted, f'{name}: no metrics.emit in the code'
        assert alarm['Dimensions'] == [{'Name': 'stage', 'Value': STAGE_FROM_STACK_NAME}]
        assert alarm['ComparisonOperator'] == 'GreaterThanThreshold'


def test_every_function_has_an_errors_and_a_throttles_alarm(packaged):
    functions = set(_functions(packaged))

    assert set(_function_alarms(packaged, 'Errors')) == functions
    assert set(_function_alarms(packaged, 'Throttles')) == functions
    for alarm in [
        *_function_alarms(packaged, 'Errors').values(),
        *_function_alarms(packaged, 'Throttles').values(),
    ]:
        assert alarm['ComparisonOperator'] == 'GreaterThanThreshold'
        assert alarm['Statistic'] == 'Sum'


def test_a_function_scheduled_every_minute_alarms_when_it_stops_running(packaged):
    assert 'OutboxRelay' in _every_minute(packaged)
    quiet = _function_alarms(packaged, 'Invocations')

    assert set(quiet) == _every_minute(packaged)
    for alarm in quiet.values():
        assert alarm['ComparisonOperator'] == 'LessThanThreshold' and alarm['Threshold'] == 1
        # No invocation means no data point: missing data is the alarm.
        assert alarm['TreatMissingData'] == 'breaching'
        assert alarm['Period'] == 60


def test_api_alarms_watch_this_stacks_api_and_stage(packaged):
    dimensions = [
        {'Name': 'ApiName', 'Value': {'Ref': 'AWS::StackName'}},
        {'Name': 'Stage', 'Value': packaged.stage_config['api_gateway_stage']},
    ]
    assert packaged.props('RestAPI')['Name'] == {'Ref': 'AWS::StackName'}
    rate = packaged.props('ApiErrorRateAlarm')
    latency = packaged.props('ApiLatencyAlarm')

    assert {metric['MetricName'] for metric in _alarm_metrics(rate)} == {'5XXError', 'Count'}
    assert all(metric['Dimensions'] == dimensions for metric in _alarm_metrics(rate))
    [answer] = [query for query in rate['Metrics'] if query.get('ReturnData')]
    assert answer['Expression'] == 'IF(requests >= 20, 100 * errors / requests, 0)'
    assert (latency['MetricName'], latency['ExtendedStatistic']) == ('Latency', 'p99')
    assert latency['Dimensions'] == dimensions


def test_every_alarm_notifies_the_alarm_topic_both_ways(packaged):
    for name, alarm in _alarms(packaged).items():
        assert alarm['AlarmActions'] == ALARM_ACTIONS, name
        assert alarm['OKActions'] == ALARM_ACTIONS, name


def test_every_alarm_threshold_is_a_parameter_with_a_default(packaged):
    parameters = packaged.template['Parameters']
    for name, alarm in _alarms(packaged).items():
        # Fixed by what they mean: any dead letter; fewer than one run.
        if name == 'NotificationsDeadLetterAlarm' or name.endswith('NotRunningAlarm'):
            continue
        parameter = alarm['Threshold']['Ref']
        assert 'Default' in parameters[parameter], parameter


def test_every_alarm_description_names_its_runbook_section(packaged):
    sections = _runbook_sections()
    for name, alarm in _alarms(packaged).items():
        description = alarm['AlarmDescription']
        match = re.search(r'Runbook: docs/operations\.md, "([^"]+)"', description)

        assert match, name
        assert match.group(1) in sections, (name, match.group(1))
        assert len(description) <= 1024


def test_alarm_names_are_unique_and_carry_the_stack_name(packaged):
    names = [alarm['AlarmName']['Fn::Sub'] for alarm in _alarms(packaged).values()]

    assert len(names) == len(set(names))
    assert all(name.startswith('${AWS::StackName}-') for name in names)


# --- Dashboard --------------------------------------------------------------


def test_dashboard_shows_every_metric_the_code_emits_and_no_other(packaged):
    shown = {
        name for _, (namespace, name, _, _) in _dashboard_lines(packaged) if namespace == NAMESPACE
    }

    assert shown == emitted_metrics()


def test_dashboard_service_metrics_are_this_stages(packaged):
    _, variables = dashboard(packaged)
    assert variables['Stage'] == STAGE_FROM_STACK_NAME
    for _, (namespace, name, dimensions, _) in _dashboard_lines(packaged):
        if namespace == NAMESPACE:
            assert dimensions == {'stage': '${Stage}'}, name


def _widget_with(packaged, *names: str) -> dict[str, Any]:
    body, _ = dashboard(packaged)
    for widget in body['widgets']:
        if set(names) <= {name for _, name, _, _ in _widget_metrics(widget)}:
            return widget
    raise AssertionError(f'no widget shows {names} together')


def test_dashboard_has_the_widgets_an_operator_looks_at_first(packaged):
    api = {'ApiName': '${AWS::StackName}', 'Stage': packaged.stage_config['api_gateway_stage']}
    for names in [
        ('Count',),
        ('5XXError', '4XXError'),
        ('OrdersCreated',),
        ('EventsPublished', 'OutboxPendingAgeSeconds'),
        ('EmailsSent', 'EmailSendFailures'),
        ('TransactionRetries',),
        ('ConcurrentExecutions',),
    ]:
        _widget_with(packaged, *names)
    latency = _widget_with(packaged, 'Latency')
    assert {options['stat'] for *_, options in _widget_metrics(latency)} == {'p50', 'p99'}
    for _widget, (namespace, _, dimensions, _) in _dashboard_lines(packaged):
        if namespace == 'AWS/ApiGateway':
            assert dimensions == api


def test_dashboard_shows_each_functions_errors_throttles_and_scheduled_runs(packaged):
    by_metric: dict[str, set[str]] = {}
    for _, (namespace, name, dimensions, _) in _dashboard_lines(packaged):
        if namespace == 'AWS/Lambda':
            by_metric.setdefault(name, set()).add(dimensions['FunctionName'])
    functions = {f'${{{name}}}' for name in _functions(packaged)}

    assert by_metric['Errors'] == functions
    assert by_metric['Throttles'] == functions
    assert by_metric['Invocations'] == {f'${{{name}}}' for name in _scheduled(packaged)}


def test_dashboard_draws_each_reserved_concurrency_it_shows(packaged):
    widget = _widget_with(packaged, 'ConcurrentExecutions')
    limits = {
        line['label']: line['value'] for line in widget['properties']['annotations']['horizontal']
    }
    parameters = packaged.template['Parameters']

    assert limits['api reserved'] == '${ApiReservedConcurrency}'
    if packaged.stage == 'prod':
        # The default is prod's reservation; docs/deploy.md passes dev's.
        assert parameters['ApiReservedConcurrency']['Default'] == packaged.function_config(
            'APIHandler', 'reserved_concurrency'
        )
    assert limits['email_notifier reserved'] == packaged.function_config(
        'EmailNotifier', 'reserved_concurrency'
    )


def test_dashboard_widgets_do_not_overlap_on_its_grid(packaged):
    body, _ = dashboard(packaged)
    taken: set[tuple[int, int]] = set()
    for widget in body['widgets']:
        assert widget['x'] + widget['width'] <= 24
        cells = {
            (x, y)
            for x in range(widget['x'], widget['x'] + widget['width'])
            for y in range(widget['y'], widget['y'] + widget['height'])
        }
        assert not cells & taken, widget['properties']['title']
        taken |= cells


def test_dashboard_substitutes_only_what_the_template_defines(packaged):
    body, variables = packaged.props('Dashboard')['DashboardBody']['Fn::Sub']
    known = set(packaged.template['Parameters']) | set(packaged.resources) | set(variables)
    for name in re.findall(r'\$\{([^}]+)\}', body):
        assert name.startswith('AWS::') or name.split('.')[0] in known, name


# --- Encryption, logs, concurrency ---------------------------------------------


def test_topic_is_encrypted_with_the_stack_key_or_the_aws_managed_sns_key(packaged):
    _topic, props = packaged.one_of_type('AWS::SNS::Topic')

    assert props['KmsMasterKeyId'] == {
        'Fn::If': ['UsesCustomerKey', {'Fn::GetAtt': ['OrdersKey', 'Arn']}, 'alias/aws/sns']
    }


def test_queues_use_the_stack_key_or_sqs_managed_keys_never_none(packaged):
    for props in packaged.of_type('AWS::SQS::Queue').values():
        assert props['KmsMasterKeyId'] == {
            'Fn::If': [
                'UsesCustomerKey',
                {'Fn::GetAtt': ['OrdersKey', 'Arn']},
                {'Ref': 'AWS::NoValue'},
            ]
        }
        assert props['SqsManagedSseEnabled'] == {
            'Fn::If': ['UsesCustomerKey', {'Ref': 'AWS::NoValue'}, True]
        }


def test_every_log_group_has_a_retention_and_the_optional_key(packaged):
    groups = packaged.of_type('AWS::Logs::LogGroup')
    assert 'ApiAccessLogGroup' in groups
    for name, props in groups.items():
        assert props['RetentionInDays'], name
        assert props['KmsKeyId'] == {
            'Fn::If': [
                'UsesCustomerKey',
                {'Fn::GetAtt': ['OrdersKey', 'Arn']},
                {'Ref': 'AWS::NoValue'},
            ]
        }


def _log_group_name(packaged, props: dict[str, Any]) -> str:
    """The name as a stack named orders-prod creates it."""
    functions = _functions(packaged)
    name = props['LogGroupName']['Fn::Sub']

    def function_name(match: re.Match) -> str:
        logical_id = match.group(1)
        if logical_id == 'AWS::StackName':
            return 'orders-prod'
        given = functions[logical_id]['FunctionName']
        return (
            given['Fn::Sub'].replace('${AWS::StackName}', 'orders-prod')
            if 'Fn::Sub' in given
            else 'orders-prod'
        )

    return re.sub(r'\$\{([^}]+)\}', function_name, name)


def test_the_key_lets_cloudwatch_logs_use_it_for_exactly_this_stacks_log_groups(packaged):
    key = packaged.props('OrdersKey')
    [logs] = [
        statement
        for statement in key['KeyPolicy']['Statement']
        if statement['Principal'] == {'Service': {'Fn::Sub': 'logs.${AWS::Region}.amazonaws.com'}}
    ]
    patterns = [
        pattern['Fn::Sub'].split(':log-group:')[1].replace('${AWS::StackName}', 'orders-prod')
        for pattern in logs['Condition']['ArnLike']['kms:EncryptionContext:aws:logs:arn']
    ]
    for props in packaged.of_type('AWS::Logs::LogGroup').values():
        name = _log_group_name(packaged, props)

        assert any(fnmatch(name, pattern) for pattern in patterns), name
    assert not any(fnmatch('/aws/lambda/orders-dev', pattern) for pattern in patterns)


def test_the_key_lets_sns_deliver_only_for_this_stacks_topic(packaged):
    key = packaged.props('OrdersKey')
    [sns] = [
        statement
        for statement in key['KeyPolicy']['Statement']
        if statement['Principal'] == {'Service': 'sns.amazonaws.com'}
    ]
    topic_name = packaged.props('OrderEventsTopic')['TopicName']['Fn::Sub']

    assert set(sns['Action']) == {'kms:GenerateDataKey*', 'kms:Decrypt'}
    assert sns['Condition']['ArnEquals']['aws:SourceArn']['Fn::Sub'].endswith(':' + topic_name)
    assert key['EnableKeyRotation'] is True
    assert packaged.resources['OrdersKey']['Condition'] == 'UsesCustomerKey'


def test_api_access_log_is_one_json_line_per_request_without_headers(packaged):
    setting = packaged.props('RestAPI')['AccessLogSetting']
    line = re.sub(r'\$context\.[A-Za-z.]+', 'x', setting['Format'])
    fields = json.loads(line)

    assert setting['DestinationArn'] == {'Fn::GetAtt': ['ApiAccessLogGroup', 'Arn']}
    assert {'requestId', 'lambdaRequestId', 'status', 'latencyMs'} <= set(fields)
    assert 'header' not in setting['Format'].lower() and 'authoriz' not in setting['Format'].lower()
    assert packaged.resources['RestAPI']['DependsOn'] == 'ApiGatewayLogRoleReady'


def test_every_function_reserves_its_concurrency(packaged):
    for name, props in _functions(packaged).items():
        assert props.get('ReservedConcurrentExecutions', 0) >= 1, name


# --- checkov ------------------------------------------------------------------


def test_checkov_passes_the_template_and_every_skip_gives_its_reason(packaged):
    if not CHECKOV.exists():
        if os.environ.get('CI'):
            pytest.fail(f'{CHECKOV} is missing: make tools-venv')
        pytest.skip(f'{CHECKOV} is missing: make tools-venv')
    result = subprocess.run(
        [
            str(CHECKOV),
            '-f',
            str(packaged.template_path),
            '--framework',
            'cloudformation',
            '--output',
            'json',
            '--skip-download',
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(result.stdout)

    assert result.returncode == 0, [
        (check['check_id'], check['resource']) for check in report['results']['failed_checks']
    ]
    assert report['summary']['failed'] == 0
    skipped = report['results']['skipped_checks']
    # The checks decided against, and only those: no cache for per-caller
    # answers; no DLQ and no customer key for the environment, per function.
    expected = {('CKV_AWS_120', 'AWS::Serverless::Api.RestAPI')} | {
        (check, f'AWS::Serverless::Function.{name}')
        for name in _functions(packaged)
        for check in ('CKV_AWS_116', 'CKV_AWS_173')
    }
    assert {(check['check_id'], check['resource']) for check in skipped} == expected
    for check in skipped:
        reason = check['check_result'].get('suppress_comment') or ''
        assert len(reason) > 40, (check['check_id'], check['resource'])


# --- The dashboard's picture ----------------------------------------------------

TOOLS_PYTHON = ROOT / '.venv-tools' / 'bin' / 'python'


def test_dashboard_picture_draws_every_widget_from_a_local_run(packaged, tmp_path):
    """make dashboard-picture, shortened: a new widget whose lines the
    drawing cannot fill fails here, not when the picture is next redrawn."""
    if not TOOLS_PYTHON.exists():
        if os.environ.get('CI'):
            pytest.fail(f'{TOOLS_PYTHON} is missing: make tools-venv')
        pytest.skip(f'{TOOLS_PYTHON} is missing: make tools-venv')
    run, picture = tmp_path / 'run.jsonl', tmp_path / 'dashboard.png'
    env = {name: value for name, value in os.environ.items() if not name.startswith('AWS_')}
    subprocess.run(
        [sys.executable, '-m', 'tools.dashboard_run', '--out', str(run), '--seconds', '3'],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )

    drawn = subprocess.run(
        [
            str(TOOLS_PYTHON),
            'tools/dashboard_picture.py',
            str(packaged.template_path),
            str(run),
            str(picture),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert drawn.returncode == 0, drawn.stderr
    assert picture.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
