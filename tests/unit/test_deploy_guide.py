"""What docs/deploy.md tells an operator to run to set up Cognito keeps the
shop's user id out of users' hands: the commands are read from the guide's
shell blocks and checked as Cognito would take them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / 'docs' / 'deploy.md'
USER_ID = 'custom:user_id'


def cognito_commands() -> list[list[str]]:
    """Every `aws cognito-idp ...` command of the guide's shell blocks, split
    as the shell would (continuation lines joined; $(...) kept whole)."""
    commands = []
    for block in re.findall(r'```sh\n(.*?)```', GUIDE.read_text(), re.S):
        text = re.sub(r'\\\n', ' ', block)
        for line in text.splitlines():
            line = line.strip()
            start = line.find('aws cognito-idp ')
            if start >= 0:
                words = shlex.split(line[start:].rstrip(')'))
                commands.append(words)
    return commands


def options(command: list[str]) -> dict[str, list[str]]:
    """--option value... of one command."""
    found: dict[str, list[str]] = {}
    name = None
    for word in command[3:]:
        if word.startswith('--'):
            name = word
            found[name] = []
        elif name is not None:
            found[name].append(word)
    return found


def subcommand(name: str) -> list[dict[str, list[str]]]:
    return [options(command) for command in cognito_commands() if command[2] == name]


def test_the_user_pool_lets_only_the_shop_create_users():
    (pool,) = subcommand('create-user-pool')

    assert 'AllowAdminCreateUserOnly=true' in pool['--admin-create-user-config']


def test_the_user_id_attribute_is_immutable():
    (pool,) = subcommand('create-user-pool')

    assert 'Name=user_id,AttributeDataType=Number,Mutable=false' in pool['--schema']


def test_the_user_id_is_set_when_the_user_is_created_never_updated():
    (created,) = subcommand('admin-create-user')

    assert any(value.startswith(f'Name={USER_ID},') for value in created['--user-attributes'])
    assert subcommand('admin-update-user-attributes') == []


def test_a_user_facing_client_names_what_it_writes_and_not_the_user_id():
    clients = [
        client
        for client in subcommand('create-user-pool-client')
        if 'client_credentials' not in client.get('--allowed-o-auth-flows', [])
    ]

    assert clients, "the guide shows how to make the shop's app client"
    for client in clients:
        assert client.get('--write-attributes'), 'without a list a client writes every attribute'
        assert USER_ID not in client['--write-attributes']
        assert not any(
            scope.startswith('orders/') for scope in client.get('--allowed-o-auth-scopes', [])
        )
