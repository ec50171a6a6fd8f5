"""`make run`: chalice local, with a local Stripe stand-in beside it.

Starts localstripe on 127.0.0.1 (tools/localstripe_server.py), registers the
service's webhook with it (its URL and a signing secret), points the service
at it (STRIPE_API_BASE, a test key, the secret) and runs chalice local in the
foreground; stopping chalice local (Ctrl-C) stops localstripe too. Card
payments then work with no Stripe account. Development only."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

# localstripe takes any key that starts with sk_; the secret is this machine's own.
LOCAL_API_KEY = 'sk_test_local'
LOCAL_WEBHOOK_SECRET = 'whsec_local_development_only'


def wait_for(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f'localstripe did not start on port {port}') from None
            time.sleep(0.1)


def register_webhook(stripe_port: int, api_port: int) -> None:
    data = urllib.parse.urlencode(
        {'url': f'http://127.0.0.1:{api_port}/webhooks/stripe', 'secret': LOCAL_WEBHOOK_SECRET}
    ).encode()
    request = urllib.request.Request(
        f'http://127.0.0.1:{stripe_port}/_config/webhooks/orders', data=data, method='POST'
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--port', type=int, default=8000)
    parser.add_argument('--stripe-port', type=int, default=8420)
    args = parser.parse_args()
    # A kill stops both servers, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _stop)
    stripe = subprocess.Popen(
        [sys.executable, '-m', 'tools.localstripe_server', '--port', str(args.stripe_port)]
    )
    chalice = None
    try:
        wait_for(args.stripe_port, stripe)
        register_webhook(args.stripe_port, args.port)
        env = {
            **os.environ,
            'STRIPE_API_KEY': LOCAL_API_KEY,
            'STRIPE_WEBHOOK_SECRET': LOCAL_WEBHOOK_SECRET,
            'STRIPE_API_BASE': f'http://127.0.0.1:{args.stripe_port}',
        }
        print(
            f'localstripe on http://127.0.0.1:{args.stripe_port}, its webhook registered',
            flush=True,
        )
        chalice = subprocess.Popen(
            [
                os.path.join(os.path.dirname(sys.executable), 'chalice'),
                'local',
                '--stage',
                'local',
                '--host',
                '127.0.0.1',
                '--port',
                str(args.port),
                '--no-autoreload',
            ],
            env=env,
        )
        return chalice.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (chalice, stripe):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)


if __name__ == '__main__':
    sys.exit(main())
