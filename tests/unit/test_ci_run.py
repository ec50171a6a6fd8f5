""".ci/run installs what the tests need before it runs them: Debian's chromium
when it is missing (and only then), so the browser test runs on a fresh CI
machine. apt-get, make and mariadb-admin are stand-ins that record their
calls."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stubs(tmp_path):
    calls = tmp_path / 'calls'
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name, line in {
        'apt-get': 'apt-get $*',
        'make': 'make $* CI=$CI',
        'mariadb-admin': 'mariadb-admin $*',
    }.items():
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{line}" >> {calls}\n')
        stub.chmod(0o755)
    return bin_dir, calls


def run_ci(stubs, chromium):
    bin_dir, calls = stubs
    env = {**os.environ, 'PATH': f'{bin_dir}:{os.environ["PATH"]}', 'CHROMIUM': chromium}
    env.pop('CI', None)
    subprocess.run([str(ROOT / '.ci' / 'run')], env=env, check=True, capture_output=True)
    return calls.read_text().splitlines()


def test_ci_installs_chromium_when_it_is_missing_then_runs_the_tests(stubs, tmp_path):
    calls = run_ci(stubs, chromium=str(tmp_path / 'no-chromium-here'))

    installs = [call for call in calls if call.startswith('apt-get')]
    assert installs == [
        'apt-get update -qq',
        'apt-get install -y -qq --no-install-recommends chromium',
    ]
    assert calls[-1] == 'make test CI=true'
    assert calls.index(installs[-1]) < calls.index('make test CI=true')


def test_ci_installs_nothing_when_chromium_is_there(stubs):
    calls = run_ci(stubs, chromium='/bin/sh')

    assert not [call for call in calls if call.startswith('apt-get')]
    assert calls[-1] == 'make test CI=true'


def test_ci_installs_curl_for_the_readme_check_when_it_is_missing(stubs):
    bin_dir, calls = stubs
    # A PATH of the stand-ins and what .ci/run needs besides, without curl.
    for tool in ('bash', 'dirname'):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {'PATH': str(bin_dir), 'CHROMIUM': '/bin/sh'}
    subprocess.run([str(ROOT / '.ci' / 'run')], env=env, check=True, capture_output=True)
    recorded = calls.read_text().splitlines()

    assert 'apt-get install -y -qq --no-install-recommends curl' in recorded
    assert recorded[-1] == 'make test CI=true'
