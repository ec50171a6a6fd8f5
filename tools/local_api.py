"""`chalice local` as its own command runs it, with one difference: a TRACE
request reaches the app like any other method (Chalice answers 405 in its
error shape, as for a method no route takes) instead of the development
server's own 501 page, which a client or a fuzzer would take for a server
error. In AWS, API Gateway answers TRACE itself.

    python -m tools.local_api local --stage local --port 8000 --no-autoreload
"""

from __future__ import annotations

import sys

from chalice import local
from chalice.cli import main

local.ChaliceRequestHandler.do_TRACE = local.ChaliceRequestHandler._generic_handle  # type: ignore[attr-defined]

if __name__ == '__main__':
    sys.exit(main())
