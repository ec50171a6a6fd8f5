"""What `make run` starts, for tests that need the real server: the demo
catalog loaded into a temporary SQLite file, then `chalice local` on the local
stage on a free loopback port, mail to files, trusting the test run's token
issuer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools.fresh_run import free_port

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 30


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def make_run(data: Path, issuer: Any) -> Iterator[str]:
    """The server's base URL while it runs; stopped on the way out."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ('SNS_TOPIC_ARN', 'SES_SENDER_EMAIL', 'DB_HOST', 'DB_SECRET_ARN')
    }
    auth = issuer.auth_settings()
    env.update(
        DATABASE_URL=f'sqlite:///{data}/orders.sqlite3',
        MAIL_DIR=str(data / 'mail'),
        AUTO_MIGRATE='true',
        AUTH_ISSUER=auth.issuer,
        AUTH_AUDIENCE=','.join(auth.audiences),
        AUTH_JWKS_URL=auth.jwks_url,
    )
    subprocess.run(
        [sys.executable, '-m', 'chalicelib.wiring.cli', 'demo-catalog'],
        cwd=ROOT,
        env={**env, 'ENVIRONMENT': 'local'},
        check=True,
        capture_output=True,
    )
    port = free_port()
    with open(data / 'chalice.log', 'wb') as log:
        process = subprocess.Popen(
            [
                sys.executable,
                '-m',
                'tools.local_api',
                'local',
                '--stage',
                'local',
                '--port',
                str(port),
                '--no-autoreload',
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f'http://127.0.0.1:{port}'
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while process.poll() is None and not answers(f'{base}/health'):
                assert time.monotonic() < deadline, 'chalice local did not answer /health'
                time.sleep(0.1)
            assert process.poll() is None, (data / 'chalice.log').read_text()
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)
