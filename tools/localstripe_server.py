"""localstripe (a stateful fake Stripe server) on 127.0.0.1 only, its state
in memory only: `python -m tools.localstripe_server --port 8420`.

Its own entry point listens on every interface and pickles its state to a
fixed file after each write; neither suits a development machine or tests
running side by side. Development and tests only (never deployed)."""

from __future__ import annotations

import argparse


def serve(port: int) -> None:
    from aiohttp import web
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None
    web.run_app(server.app, host='127.0.0.1', port=port, access_log=None, print=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--port', type=int, default=8420)
    serve(parser.parse_args().port)


if __name__ == '__main__':
    main()
