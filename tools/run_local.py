"""`make run`: the whole service on this machine, as it runs in AWS.

First both ports are checked: a busy one is refused, with its name and how to
choose another, before anything is touched (`--check-ports` does only that,
with no venv: `make run` calls it before building one). Then the demo catalog
goes into an empty local catalog; localstripe (tools/localstripe_server.py, a
local Stripe stand-in) starts on STRIPE_PORT and gets the service's webhook
(its URL and a signing secret); `chalice local` serves the API on PORT, pointed
at localstripe (STRIPE_API_BASE, a test key, the secret); and
tools/local_schedule.py runs the scheduled functions on their schedules, which
`chalice local` does not. A banner says where everything is. Stopping it
(Ctrl-C, or a kill) stops all three; so does any one of them stopping.
Development only.

Run from the project's directory, as make does: the database, mail and dev
keys are under its .data/. Standard library only: `--check-ports` runs on
the system's Python."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

# localstripe takes any key that starts with sk_; the secret is this machine's own.
LOCAL_API_KEY = 'sk_test_local'
LOCAL_WEBHOOK_SECRET = 'whsec_local_development_only'
LOCAL_STAGE = 'local'
STARTUP_SECONDS = 60


def port_refusal(port: int, name: str) -> str | None:
    """Why `port` cannot be used, or None. A probe bound as the servers bind
    (SO_REUSEADDR: a closed connection's TIME_WAIT does not count) fails only
    while something listens there."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(('127.0.0.1', port))
        except OSError as error:
            return (
                f'make run: port {port} ({name}) is not free ({error.strerror}): '
                f'another `make run`, or another server, is using it. Stop it, '
                f'or choose another port: make run {name}=<port>'
            )
    return None


def check_ports(port: int, stripe_port: int) -> None:
    if port == stripe_port:
        raise SystemExit(f'make run: PORT and STRIPE_PORT are both {port}: choose two ports')
    refusals = [
        refusal
        for refusal in (port_refusal(port, 'PORT'), port_refusal(stripe_port, 'STRIPE_PORT'))
        if refusal
    ]
    if refusals:
        raise SystemExit('\n'.join(refusals))


def say(text: str) -> None:
    print(f'make run: {text}', flush=True)


def stage_environment() -> dict[str, str]:
    """The local stage's variables (.chalice/config.json), which chalice
    local sets for the API: the scheduled functions get the same."""
    config = json.loads(Path('.chalice/config.json').read_text())
    return dict(config['stages'][LOCAL_STAGE].get('environment_variables', {}))


def wait_until(ready, process: subprocess.Popen, what: str) -> None:
    """Until ready() holds while `process` (ours) still runs: a port that
    answers is not enough, it may be another server's."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        is_ready = ready()
        if process.poll() is not None:
            raise SystemExit(f'make run: {what} stopped while starting (exit {process.returncode})')
        if is_ready:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f'make run: {what} did not start in {STARTUP_SECONDS} s')
        time.sleep(0.1)


def listening(port: int) -> bool:
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        return True
    except OSError:
        return False


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def register_webhook(stripe_port: int, api_port: int) -> None:
    data = urllib.parse.urlencode(
        {'url': f'http://127.0.0.1:{api_port}/webhooks/stripe', 'secret': LOCAL_WEBHOOK_SECRET}
    ).encode()
    request = urllib.request.Request(
        f'http://127.0.0.1:{stripe_port}/_config/webhooks/orders', data=data, method='POST'
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def banner(port: int, stripe_port: int) -> str:
    url = f'http://localhost:{port}'
    return f"""
  The orders service is running (Ctrl-C stops it):
    API               {url}   (GET /health needs no token)
    API reference     {url}/docs
    Stripe stand-in   http://localhost:{stripe_port}   (its webhook: {url}/webhooks/stripe)
  Tokens, in another terminal:
    make -s token USER_ID=1 EMAIL=ada@example.com   a customer
    make -s token ROLE=staff                        a member of staff
    make -s token ROLE=service                      a fulfilment service
  e.g. curl -s {url}/orders -H "Authorization: Bearer $(make -s token USER_ID=1)"
"""


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(port: int, stripe_port: int) -> int:
    processes: dict[str, subprocess.Popen] = {}

    def start(name: str, *command: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        processes[name] = subprocess.Popen(command, env=env)
        return processes[name]

    try:
        say('loading the demo catalog (only into an empty catalog)')
        subprocess.run(
            [sys.executable, '-m', 'chalicelib.wiring.cli', 'demo-catalog'],
            env={**os.environ, **stage_environment()},
            check=True,
        )
        say(f'starting localstripe on port {stripe_port}')
        stripe = start(
            'localstripe',
            sys.executable,
            '-m',
            'tools.localstripe_server',
            '--port',
            str(stripe_port),
        )
        wait_until(lambda: listening(stripe_port), stripe, 'localstripe')
        register_webhook(stripe_port, port)
        env = {
            **os.environ,
            'STRIPE_API_KEY': LOCAL_API_KEY,
            'STRIPE_WEBHOOK_SECRET': LOCAL_WEBHOOK_SECRET,
            'STRIPE_API_BASE': f'http://127.0.0.1:{stripe_port}',
        }
        say(f'starting chalice local on port {port}')
        chalice = start(
            'chalice local',
            sys.executable,
            '-m',
            'tools.local_api',
            'local',
            '--stage',
            LOCAL_STAGE,
            '--host',
            '127.0.0.1',
            '--port',
            str(port),
            '--no-autoreload',
            env=env,
        )
        wait_until(lambda: healthy(port), chalice, 'chalice local')
        say('starting the scheduled functions')
        start(
            'the scheduled functions',
            sys.executable,
            '-m',
            'tools.local_schedule',
            env={**env, **stage_environment()},
        )
        print(banner(port, stripe_port), flush=True)
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        name, stopped = next(
            (name, process) for name, process in processes.items() if process.poll() is not None
        )
        say(f'{name} stopped (exit {stopped.returncode}): stopping the rest')
        return stopped.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in reversed(processes.values()):
            if process.poll() is None:
                process.terminate()
                process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--port', type=int, default=8000)
    parser.add_argument('--stripe-port', type=int, default=8420)
    parser.add_argument(
        '--check-ports', action='store_true', help='only refuse a busy port, start nothing'
    )
    args = parser.parse_args()
    check_ports(args.port, args.stripe_port)
    if args.check_ports:
        return 0
    # A kill stops everything, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _stop)
    return serve(args.port, args.stripe_port)


if __name__ == '__main__':
    sys.exit(main())
