"""`make package`: the CloudFormation template of each stage, built and read offline.

A copy of the project is packaged the way `make package` does it
(`chalice package --merge-template infra/resources.yaml`), linted with
cfn-lint, and read: the SNS/SQS/DLQ wiring, the IAM policies and the
per-function settings are what the contract needs. Chalice ignores a
mistyped config key and the merge keeps both halves of two different
intrinsics, silently: these tests are where such a slip shows.
No AWS account and no network: the copy's requirements.txt is emptied
(vendoring dependencies needs PyPI and changes nothing in the template).
"""

import json
import re
import subprocess
import sys
import zipfile

import pytest

from tests.support_package import FUNCTIONS, ROOT, referenced

pytestmark = pytest.mark.slow


ROLES = {
    'APIHandler': 'ApiHandlerRole',
    'EmailNotifier': 'EmailNotifierRole',
    'OutboxRelay': 'OutboxRelayRole',
    'RefundRelay': 'RefundRelayRole',
    'Housekeeping': 'HousekeepingRole',
    'ExpireUnpaid': 'ExpireUnpaidRole',
    'Migrate': 'MigrateRole',
}
ENI_ACTIONS = {
    'ec2:CreateNetworkInterface',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSubnets',
    'ec2:DeleteNetworkInterface',
    'ec2:AssignPrivateIpAddresses',
    'ec2:UnassignPrivateIpAddresses',
}
# Signing in to the database: the secret, or (DbIamAuth=true) an IAM token.
SIGN_IN = {
    'ReadDatabaseSecret': ('UsesSecret', 'secretsmanager:GetSecretValue'),
    'ConnectAsDatabaseUserWithIam': ('UsesIamAuth', 'rds-db:connect'),
}
XRAY_ACTIONS = {'xray:PutTraceSegments', 'xray:PutTelemetryRecords'}
EVERY_FUNCTION_CALLS = (
    ENI_ACTIONS
    | XRAY_ACTIONS
    | {'logs:CreateLogStream', 'logs:PutLogEvents'}
    | {action for _, action in SIGN_IN.values()}
)
FUNCTION_CALLS = {
    'APIHandler': {'sns:Publish'},
    'OutboxRelay': {'sns:Publish'},  # PublishBatch is authorized by sns:Publish
    'RefundRelay': {'sns:Publish'},  # order_refunded; the Stripe secret is a GetSecretValue
    'EmailNotifier': {
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'ses:SendEmail',
        'ses:SendRawEmail',
    },
    'Housekeeping': set(),
    'ExpireUnpaid': {'sns:Publish'},  # the cancellations' events
    'Migrate': set(),
}
# With CustomerManagedKey=true (condition UsesCustomerKey) the topic and the
# queues use the stack's key: publishers encrypt, the notifier decrypts.
KEY_CALLS = {
    'APIHandler': {'kms:GenerateDataKey', 'kms:Decrypt'},
    'OutboxRelay': {'kms:GenerateDataKey', 'kms:Decrypt'},
    'EmailNotifier': {'kms:Decrypt'},
    'Housekeeping': set(),
    'ExpireUnpaid': {'kms:GenerateDataKey', 'kms:Decrypt'},
    'RefundRelay': {'kms:GenerateDataKey', 'kms:Decrypt'},
    'Migrate': set(),
}
# Not a function's: API Gateway's account-wide role for writing access logs.
API_GATEWAY_LOG_ROLE = 'ApiGatewayCloudWatchRole'
EMAIL_EVENT_TYPES = {
    'order_created',
    'order_updated',
    'order_shipped',
    'order_cancelled',
    'order_refunded',
    'return_requested',
    'return_approved',
    'return_declined',
}
# The functions that talk to Stripe: the only ones given its secret.
STRIPE_FUNCTIONS = {'APIHandler', 'RefundRelay'}
# What the subscription let through before order_cancelled existed: a consumer
# filtering on these still gets each of them, and nothing new.
EARLIER_EMAIL_EVENT_TYPES = {'order_created', 'order_updated', 'order_shipped'}

# What Chalice reads from a stage and from lambda_functions; anything else
# in .chalice/config.json is a typo Chalice would ignore.
STAGE_KEYS = {
    'api_gateway_stage',
    'autogen_policy',
    'iam_policy_file',
    'subnet_ids',
    'security_group_ids',
    'log_retention_in_days',
    'tags',
    'environment_variables',
    'lambda_functions',
    'lambda_memory_size',
    'lambda_timeout',
    'reserved_concurrency',
    'api_gateway_endpoint_type',
    'xray',
    'layers',
    'manage_iam_role',
    'iam_role_arn',
}
FUNCTION_KEYS = {
    'lambda_memory_size',
    'lambda_timeout',
    'reserved_concurrency',
    'iam_policy_file',
    'autogen_policy',
    'environment_variables',
    'tags',
    'subnet_ids',
    'security_group_ids',
    'log_retention_in_days',
    'layers',
    'xray',
    'manage_iam_role',
    'iam_role_arn',
}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _statements(role_props):
    """Every statement a role may hold, whichever way its conditions go."""
    return [statement for _, statement in _conditional_statements(role_props)]


def _conditional_statements(role_props):
    """(condition or None, statement) for each statement of the role."""
    found = []
    for policy in role_props['Policies']:
        for statement in policy['PolicyDocument']['Statement']:
            if 'Fn::If' in statement:
                condition, *branches = statement['Fn::If']
                found += [
                    (condition, branch) for branch in branches if branch != {'Ref': 'AWS::NoValue'}
                ]
            else:
                found.append((None, statement))
    return found


def _actions(statements):
    return {action for statement in statements for action in _as_list(statement['Action'])}


def _assert_least_privilege(statements):
    for statement in statements:
        assert statement['Effect'] == 'Allow'
        actions = set(_as_list(statement['Action']))
        assert not any('*' in action for action in actions), statement
        resources = _as_list(statement['Resource'])
        if '*' in resources:
            # The documented exceptions: ENI and X-Ray actions take no resource ARN.
            assert resources == ['*'] and (actions <= ENI_ACTIONS or actions <= XRAY_ACTIONS), (
                statement
            )
            continue
        for resource in resources:
            if isinstance(resource, str):
                partition, service, region, account = resource.split(':')[1:5]
                assert '*' not in partition + service + region + account, resource


def _walk(value):
    yield value
    if isinstance(value, dict):
        for inner in value.values():
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)


# cfn-lint judges each Lambda runtime against the day it runs (W2531, E2531,
# E2533: python3.11 is deprecated on 2027-06-30, blocked from 2027-07-31), so
# its verdict on one template would change with the calendar. Here it lints as
# of a fixed day, every rule on: a runtime deprecated by then still fails.
# (`make package` lints as of the real day.)
LINT_AS_OF = '2026-12-01'
_CFN_LINT_AS_OF = """
import datetime, sys
as_of = datetime.date.fromisoformat(sys.argv.pop(1))
class AsOf(datetime.datetime):
    @classmethod
    def today(cls):
        return cls(as_of.year, as_of.month, as_of.day)
datetime.datetime = AsOf
from cfnlint.runner import main
sys.exit(main())
"""


def cfn_lint(template_path):
    return subprocess.run(
        [sys.executable, '-c', _CFN_LINT_AS_OF, LINT_AS_OF, str(template_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_template_passes_cfn_lint(packaged):
    result = cfn_lint(packaged.template_path)

    assert result.returncode == 0, result.stdout + result.stderr


# One stage: what this proves is the lint's pinned day, not anything of the
# stage's template (every runtime is replaced); prod's run was dev's again.
@pytest.mark.parametrize('packaged', ['dev'], indirect=True)
def test_cfn_lint_judges_the_runtime_as_of_its_fixed_day(packaged, tmp_path):
    """python3.9 was deprecated on 2025-12-15: before LINT_AS_OF, so the
    pinned day leaves the runtime rules on."""
    text = packaged.template_path.read_text()
    runtimes = set(re.findall(r'Runtime: (\S+)', text))
    assert runtimes and 'python3.9' not in runtimes
    old = tmp_path / 'sam.yaml'
    old.write_text(re.sub(r'Runtime: \S+', 'Runtime: python3.9', text))

    result = cfn_lint(old)

    assert result.returncode != 0
    assert 'W2531' in result.stdout and "'python3.9' was deprecated" in result.stdout


def test_merge_never_leaves_two_intrinsics_in_one_value(packaged):
    for value in _walk(packaged.template):
        if isinstance(value, dict) and any(key == 'Ref' or key.startswith('Fn::') for key in value):
            assert len(value) == 1, value


def test_subscription_sends_only_events_that_email_to_the_queue(packaged):
    queue, _ = packaged.queues
    _, subscription = packaged.one_of_type('AWS::SNS::Subscription')
    topic, _ = packaged.one_of_type('AWS::SNS::Topic')

    assert subscription['Protocol'] == 'sqs'
    assert referenced(subscription['TopicArn']) == {topic}
    assert referenced(subscription['Endpoint']) == {queue}
    assert subscription.get('FilterPolicyScope', 'MessageAttributes') == 'MessageAttributes'
    assert list(subscription['FilterPolicy']) == ['event_type']
    assert set(subscription['FilterPolicy']['event_type']) == EMAIL_EVENT_TYPES


def test_subscription_lets_cancellations_through_and_keeps_every_earlier_type(packaged):
    _, subscription = packaged.one_of_type('AWS::SNS::Subscription')
    allowed = subscription['FilterPolicy']['event_type']

    assert 'order_cancelled' in allowed
    assert set(allowed) >= EARLIER_EMAIL_EVENT_TYPES
    assert len(allowed) == len(set(allowed))
    # Every type the notifier renders reaches it, and only those.
    from chalicelib.notify.mail import TEMPLATES

    assert set(allowed) == set(TEMPLATES)


def test_notifier_reads_the_stack_queue_and_reports_batch_item_failures(packaged):
    queue, _ = packaged.queues
    events = packaged.props('EmailNotifier')['Events']
    [source] = [event['Properties'] for event in events.values() if event['Type'] == 'SQS']

    assert source['FunctionResponseTypes'] == ['ReportBatchItemFailures']
    assert referenced(source['Queue']) == {queue}
    reserved = packaged.props('EmailNotifier')['ReservedConcurrentExecutions']
    # More pollers than reserved concurrency: throttled batches count as
    # receives and reach the DLQ without being processed.
    assert source['ScalingConfig']['MaximumConcurrency'] <= reserved


def test_a_message_failing_three_times_moves_to_the_dead_letter_queue(packaged):
    queue, dlq = packaged.queues
    redrive = packaged.props(queue)['RedrivePolicy']

    assert redrive['maxReceiveCount'] == 3
    assert redrive['deadLetterTargetArn'] == {'Fn::GetAtt': [dlq, 'Arn']}
    # A DLQ keeps a message's first enqueue time: it must outlive the queue's.
    assert packaged.props(dlq)['MessageRetentionPeriod'] > packaged.props(queue).get(
        'MessageRetentionPeriod', 345600
    )


def test_visibility_timeout_is_at_least_six_notifier_timeouts(packaged):
    queue, _ = packaged.queues
    timeout = packaged.props('EmailNotifier')['Timeout']

    assert packaged.props(queue)['VisibilityTimeout'] >= 6 * timeout


def test_only_the_topic_may_send_to_the_queue(packaged):
    queue, _ = packaged.queues
    topic, _ = packaged.one_of_type('AWS::SNS::Topic')
    _, queue_policy = packaged.one_of_type('AWS::SQS::QueuePolicy')

    assert [referenced(q) for q in queue_policy['Queues']] == [{queue}]
    for statement in queue_policy['PolicyDocument']['Statement']:
        assert statement['Effect'] == 'Allow'
        assert statement['Principal'] == {'Service': 'sns.amazonaws.com'}
        assert _as_list(statement['Action']) == ['sqs:SendMessage']
        assert referenced(statement['Condition']['ArnEquals']['aws:SourceArn']) == {topic}


def test_each_role_grants_only_what_its_function_calls(packaged):
    for function, role in ROLES.items():
        assert referenced(packaged.props(function)['Role']) == {role}
        statements = _statements(packaged.props(role))

        assert _actions(statements) == (
            EVERY_FUNCTION_CALLS | FUNCTION_CALLS[function] | KEY_CALLS[function]
        )
        _assert_least_privilege(statements)
        key_statements = [
            statement
            for condition, statement in _conditional_statements(packaged.props(role))
            if condition == 'UsesCustomerKey'
        ]
        assert _actions(key_statements) == KEY_CALLS[function]
        for statement in key_statements:
            assert statement['Resource'] == {'Fn::GetAtt': ['OrdersKey', 'Arn']}
    assert set(packaged.of_type('AWS::IAM::Role')) == set(ROLES.values()) | {API_GATEWAY_LOG_ROLE}


def test_each_role_signs_in_to_the_database_one_way_chosen_by_the_stack(packaged):
    for function, role in ROLES.items():
        sign_in = {
            statement['Sid']: (condition, statement)
            for condition, statement in _conditional_statements(packaged.props(role))
            if statement.get('Sid') in SIGN_IN
        }

        assert set(sign_in) == set(SIGN_IN), function
        for sid, (condition, action) in SIGN_IN.items():
            assert sign_in[sid][0] == condition and sign_in[sid][1]['Action'] == action
        assert sign_in['ReadDatabaseSecret'][1]['Resource'] == {'Ref': 'DbSecretArn'}
        assert sign_in['ConnectAsDatabaseUserWithIam'][1]['Resource'] == {
            'Fn::Sub': (
                'arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}'
                ':dbuser:${DbResourceId}/${DbUser}'
            )
        }
    conditions = packaged.template['Conditions']
    assert conditions['UsesIamAuth'] == {'Fn::Equals': [{'Ref': 'DbIamAuth'}, 'true']}
    assert conditions['UsesSecret'] == {'Fn::Not': [{'Fn::Equals': [{'Ref': 'DbSecretArn'}, '']}]}


def test_iam_auth_without_a_ca_bundle_is_refused_at_deploy_time(packaged):
    rule = packaged.template['Rules']['IamAuthSignsInOverVerifiedTlsAsOneUser']

    assert rule['RuleCondition'] == {'Fn::Equals': [{'Ref': 'DbIamAuth'}, 'true']}
    assert {'Fn::Not': [{'Fn::Equals': [{'Ref': 'DbSslCa'}, 'off']}]} in [
        assertion['Assert'] for assertion in rule['Assertions']
    ]


def test_every_deployed_stage_checks_the_database_against_the_packaged_rds_bundle(packaged):
    bundle = 'chalicelib/certs/global-bundle.pem'

    assert packaged.stage_config['environment_variables']['DB_SSL_CA'] == bundle
    assert packaged.template['Parameters']['DbSslCa']['Default'] == bundle
    with zipfile.ZipFile(packaged.out_dir / 'deployment.zip') as archive:
        assert archive.read(bundle) == (ROOT / bundle).read_bytes()


def test_the_api_reserves_its_concurrency_so_it_cannot_exhaust_the_database(packaged):
    # docs/deploy.md sizes max_connections from it: one connection per copy.
    reserved = packaged.props('APIHandler').get('ReservedConcurrentExecutions')

    assert reserved is not None and reserved >= 1


def test_stage_policy_file_for_chalice_deploy_grants_the_same_calls(packaged):
    statements = packaged.policy_file['Statement']
    packaged_actions = set().union(*FUNCTION_CALLS.values()) | EVERY_FUNCTION_CALLS

    # chalice deploy creates no log group before the first invocation.
    assert _actions(statements) == packaged_actions | {'logs:CreateLogGroup'}
    _assert_least_privilege(statements)


def test_dead_letter_queue_depth_raises_an_alarm(packaged):
    _, dlq = packaged.queues
    alarm = packaged.props('NotificationsDeadLetterAlarm')

    assert alarm['Namespace'] == 'AWS/SQS'
    assert alarm['MetricName'] == 'ApproximateNumberOfMessagesVisible'
    assert [d['Name'] for d in alarm['Dimensions']] == ['QueueName']
    assert alarm['Dimensions'][0]['Value'] == {'Fn::GetAtt': [dlq, 'QueueName']}
    assert alarm['ComparisonOperator'] == 'GreaterThanThreshold'
    assert alarm['Threshold'] == 0


def test_every_function_is_configured_from_the_stack_not_placeholders(packaged):
    topic, _ = packaged.one_of_type('AWS::SNS::Topic')
    assert 'REPLACE_ME' not in json.dumps(packaged.template)
    for function in FUNCTIONS:
        props = packaged.props(function)
        variables = props['Environment']['Variables']

        assert variables['SNS_TOPIC_ARN'] == {'Ref': topic}
        for name, parameter in [
            ('DB_HOST', 'DbHost'),
            ('DB_PORT', 'DbPort'),
            ('DB_NAME', 'DbName'),
            ('DB_SECRET_ARN', 'DbSecretArn'),
            ('DB_SSL_CA', 'DbSslCa'),
            ('DB_IAM_AUTH', 'DbIamAuth'),
            ('DB_USER', 'DbUser'),
            ('SES_SENDER_EMAIL', 'SesSenderEmail'),
        ]:
            assert variables[name] == {'Ref': parameter}
            assert parameter in packaged.template['Parameters']
        assert variables['AUTO_MIGRATE'] == 'false'
        assert variables['ENVIRONMENT'] == packaged.stage
        assert props['VpcConfig'] == {
            'SubnetIds': {'Ref': 'SubnetIds'},
            'SecurityGroupIds': {'Ref': 'SecurityGroupIds'},
        }
    api = packaged.props('APIHandler')['Environment']['Variables']
    assert (api['AUTH_ISSUER'], api['AUTH_AUDIENCE']) == (
        {'Ref': 'AuthIssuer'},
        {'Ref': 'AuthAudience'},
    )


def test_api_gateway_throttles_the_whole_stage(packaged):
    [settings] = packaged.props('RestAPI')['MethodSettings']
    assert (settings['ResourcePath'], settings['HttpMethod']) == ('/*', '*')
    assert settings['ThrottlingRateLimit'] == {'Ref': 'ApiThrottleRate'}
    assert settings['ThrottlingBurstLimit'] == {'Ref': 'ApiThrottleBurst'}


def test_a_waf_web_acl_limits_each_client_ip_unless_switched_off(packaged):
    parameters = packaged.template['Parameters']
    ((acl_id, acl),) = packaged.of_type('AWS::WAFv2::WebACL').items()
    ((association_id, association),) = packaged.of_type('AWS::WAFv2::WebACLAssociation').items()
    rules = {rule['Name']: rule for rule in acl['Rules']}
    rule = rules['RateLimitPerClientIp']

    assert rules['KnownBadInputs']['Statement'] == {
        'ManagedRuleGroupStatement': {
            'VendorName': 'AWS',
            'Name': 'AWSManagedRulesKnownBadInputsRuleSet',
        }
    }
    assert packaged.template['Conditions']['UsesWaf'] == {'Fn::Equals': [{'Ref': 'UseWaf'}, 'true']}
    assert (parameters['UseWaf']['Default'], parameters['UseWaf']['AllowedValues']) == (
        'true',
        ['true', 'false'],
    )
    assert {
        packaged.resources[acl_id]['Condition'],
        packaged.resources[association_id]['Condition'],
    } == {'UsesWaf'}
    assert acl['Scope'] == 'REGIONAL' and acl['DefaultAction'] == {'Allow': {}}
    assert rule['Statement']['RateBasedStatement'] == {
        'AggregateKeyType': 'IP',
        'EvaluationWindowSec': 300,
        'Limit': {'Ref': 'WafRateLimit'},
    }
    assert rule['Action'] == {'Block': {'CustomResponse': {'ResponseCode': 429}}}
    assert association['WebACLArn'] == {'Fn::GetAtt': [acl_id, 'Arn']}
    assert referenced(association['ResourceArn']) - {'AWS::Partition', 'AWS::Region'} == {'RestAPI'}
    assert association['ResourceArn']['Fn::Sub'].endswith('/stages/${RestAPI.Stage}')


def test_every_function_and_the_api_stage_are_traced_with_xray(packaged):
    for logical_id in FUNCTIONS:
        assert packaged.props(logical_id)['Tracing'] == 'Active', logical_id
    assert packaged.props('RestAPI')['TracingEnabled'] is True


def test_stage_settings_reach_every_function(packaged):
    assert set(packaged.stage_config) <= STAGE_KEYS
    for name, settings in packaged.stage_config['lambda_functions'].items():
        assert name in {chalice_name for chalice_name, _ in FUNCTIONS.values()}
        assert set(settings) <= FUNCTION_KEYS, name
    log_groups = {
        next(iter(referenced(props['LogGroupName']))): props
        for props in packaged.of_type('AWS::Logs::LogGroup').values()
    }
    for function, (_, handler) in FUNCTIONS.items():
        props = packaged.props(function)

        assert props['Handler'] == handler
        assert props['MemorySize'] == packaged.function_config(function, 'lambda_memory_size')
        assert props['Timeout'] == packaged.function_config(function, 'lambda_timeout')
        assert props.get('ReservedConcurrentExecutions') == packaged.function_config(
            function, 'reserved_concurrency'
        )
        assert packaged.stage_config['tags'].items() <= props['Tags'].items()
        assert (
            log_groups[function]['RetentionInDays']
            == packaged.stage_config['log_retention_in_days']
        )
    assert packaged.props('EmailNotifier')['ReservedConcurrentExecutions'] is not None


def test_deployment_package_holds_the_migrate_function(packaged):
    with zipfile.ZipFile(packaged.out_dir / 'deployment.zip') as archive:
        names = set(archive.namelist())

    assert {'app.py', 'chalicelib/storage/migrations.py'} <= names
    assert any(name.startswith('chalicelib/notify/templates/') for name in names)
    assert packaged.props('Migrate')['Handler'] == 'app.migrate_function'


def test_deployment_package_holds_the_api_reference_without_its_generator(packaged):
    with zipfile.ZipFile(packaged.out_dir / 'deployment.zip') as archive:
        names = set(archive.namelist())
        served = archive.read('chalicelib/api/openapi.json')

    assert {
        'chalicelib/api/reference.py',
        'chalicelib/api/docs.html',
        'chalicelib/api/swagger-ui/swagger-ui-bundle.js',
        'chalicelib/api/swagger-ui/swagger-ui.css',
    } <= names
    assert served == (ROOT / 'docs' / 'openapi.json').read_bytes()
    # The generator and its apispec stay out of the Lambda.
    assert not any(name.startswith(('tools/', 'apispec/')) for name in names)


def test_only_the_functions_that_call_stripe_get_its_secret(packaged):
    for function, role in ROLES.items():
        variables = packaged.props(function)['Environment']['Variables']
        readers = [
            statement
            for condition, statement in _conditional_statements(packaged.props(role))
            if statement.get('Sid') == 'ReadStripeSecret'
        ]
        if function in STRIPE_FUNCTIONS:
            assert variables['STRIPE_SECRET_ARN'] == {'Ref': 'StripeSecretArn'}, function
            assert [statement['Resource'] for statement in readers] == [
                {'Ref': 'StripeSecretArn'}
            ], function
        else:
            assert 'STRIPE_SECRET_ARN' not in variables, function
            assert readers == [], function
    assert 'STRIPE_API_KEY' not in json.dumps(packaged.template)


def test_relays_run_every_minute_and_housekeeping_every_hour(packaged):
    for function, rate in [
        ('OutboxRelay', 'rate(1 minute)'),
        ('RefundRelay', 'rate(1 minute)'),
        ('Housekeeping', 'rate(1 hour)'),
        ('ExpireUnpaid', 'rate(1 minute)'),
    ]:
        [event] = packaged.props(function)['Events'].values()

        assert event == {'Type': 'Schedule', 'Properties': {'Schedule': rate}}
