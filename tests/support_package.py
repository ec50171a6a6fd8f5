"""The packaged CloudFormation template, as `chalice package` writes it for a
stage with infra/resources.yaml merged in: what test_package.py and
test_operations.py read (their `packaged` fixture is in
tests/integration/conftest.py)."""

import json
import os
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


BIN = Path(sys.executable).parent


STAGES = ['dev', 'prod']


# CloudFormation logical id -> Chalice function name, and the handler.
FUNCTIONS = {
    'APIHandler': ('api_handler', 'app.app'),
    'EmailNotifier': ('email_notifier', 'app.email_notifier'),
    'OutboxRelay': ('outbox_relay', 'app.outbox_relay'),
    'RefundRelay': ('refund_relay', 'app.refund_relay'),
    'Housekeeping': ('housekeeping', 'app.housekeeping'),
    'ExpireUnpaid': ('expire_unpaid', 'app.expire_unpaid'),
    'Migrate': ('migrate', 'app.migrate_function'),
}


def copy_project(dest):
    shutil.copy2(ROOT / 'app.py', dest / 'app.py')
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    shutil.copytree(ROOT / 'chalicelib', dest / 'chalicelib', ignore=ignore)
    shutil.copytree(ROOT / 'infra', dest / 'infra', ignore=ignore)
    (dest / '.chalice').mkdir()
    for path in (ROOT / '.chalice').glob('*.json'):
        shutil.copy2(path, dest / '.chalice' / path.name)
    (dest / 'requirements.txt').write_text('')


def offline_aws_env():
    env = {name: value for name, value in os.environ.items() if not name.startswith('AWS_')}
    env.update(
        AWS_DEFAULT_REGION='us-east-1',
        AWS_ACCESS_KEY_ID='testing',
        AWS_SECRET_ACCESS_KEY='testing',
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return env


def referenced(value):
    """Logical ids a value points at through Ref, Fn::GetAtt or Fn::Sub."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == 'Ref':
                found.add(inner)
            elif key == 'Fn::GetAtt':
                found.add(inner[0] if isinstance(inner, list) else inner.split('.')[0])
            elif key == 'Fn::Sub':
                text = inner[0] if isinstance(inner, list) else inner
                found |= {name.split('.')[0] for name in re.findall(r'\$\{([^!}][^}]*)\}', text)}
                if isinstance(inner, list):
                    found |= referenced(inner[1])
            else:
                found |= referenced(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= referenced(inner)
    return found


class Packaged:
    def __init__(self, stage, out_dir):
        self.stage = stage
        self.out_dir = out_dir
        self.template_path = out_dir / 'sam.yaml'
        self.template = yaml.safe_load(self.template_path.read_text())
        self.resources = self.template['Resources']
        config = json.loads((ROOT / '.chalice' / 'config.json').read_text())
        self.stage_config = config['stages'][stage]
        self.policy_file = json.loads(
            (ROOT / '.chalice' / self.stage_config['iam_policy_file']).read_text()
        )

    def of_type(self, resource_type):
        return {
            name: resource['Properties']
            for name, resource in self.resources.items()
            if resource['Type'] == resource_type
        }

    def one_of_type(self, resource_type):
        found = self.of_type(resource_type)
        assert len(found) == 1, f'expected one {resource_type}, found {sorted(found)}'
        return next(iter(found.items()))

    def props(self, name):
        return self.resources[name]['Properties']

    def function_config(self, logical_id, key):
        name = FUNCTIONS[logical_id][0]
        per_function = self.stage_config.get('lambda_functions', {}).get(name, {})
        return per_function.get(key, self.stage_config.get(key))

    @property
    def queues(self):
        """(queue, dead-letter queue) logical ids."""
        queues = self.of_type('AWS::SQS::Queue')
        main = [name for name, props in queues.items() if 'RedrivePolicy' in props]
        assert len(main) == 1 and len(queues) == 2, sorted(queues)
        dlq = referenced(queues[main[0]]['RedrivePolicy']['deadLetterTargetArn'])
        return main[0], dlq.pop()
