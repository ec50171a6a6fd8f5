"""`make run` as a new user starts it: in a scratch copy of the project, so
its database, mail and dev keys start empty, with none of this shell's
settings, on two free ports. The README check (tools/readme_walk.py) and the
tests of `make run` use it. Development only."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BANNER = 'The orders service is running'
STARTUP_SECONDS = 120
# What a copy leaves out: this checkout's state, not its sources.
NOT_COPIED = ('.git', '.data', '.venv*', 'build', '__pycache__', '.*_cache')
# What a fresh run sees of this environment: none of the service's settings.
PASSED_ENV = ('PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'PYENV_ROOT', 'PYENV_VERSION')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def copy_project(scratch: Path) -> Path:
    """The project's sources under scratch/orders; the copy uses this
    checkout's venv (copy2 keeps the locks' times, so make finds it current)."""
    project = scratch / 'orders'
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(*NOT_COPIED))
    return project


def environment(**settings: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    return {**env, 'VENV': str(ROOT / '.venv'), 'PYTHON': sys.executable, **settings}


@dataclass(frozen=True)
class Run:
    project: Path
    port: int
    stripe_port: int
    log: Path  # what make run printed
    env: Mapping[str, str]  # what commands against it get, as a user's shell

    @property
    def url(self) -> str:
        return f'http://localhost:{self.port}'

    def printed(self) -> str:
        return self.log.read_text(errors='replace')


@contextmanager
def make_run(project: Path, **settings: str) -> Iterator[Run]:
    """`make run` in `project` until it prints its banner; stopped (its whole
    process group) on the way out."""
    env = environment(**settings)
    port = free_port()
    run = Run(project, port, free_port(), project.parent / f'make-run-{port}.log', env)
    with open(run.log, 'wb') as log:
        server = subprocess.Popen(
            ['make', '-s', 'run', f'PORT={run.port}', f'STRIPE_PORT={run.stripe_port}'],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while BANNER not in run.printed():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f'make run did not start:\n{run.printed()}')
            time.sleep(0.2)
        yield run
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
