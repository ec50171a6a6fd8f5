"""`chalice local` as its own command runs it, with two differences:

- a TRACE request reaches the app like any other method (Chalice answers 405
  in its error shape, as for a method no route takes) instead of the
  development server's own 501 page, which a client or a fuzzer would take
  for a server error; in AWS, API Gateway answers TRACE itself;
- the development server's access line for each request is a JSON line
  through the service's logger, like every other line of `make run`, not
  http.server's plain text.

    python -m tools.local_api local --stage local --port 8000 --no-autoreload
"""

from __future__ import annotations

import sys
from typing import Any

from chalice import local
from chalice.cli import main

from chalicelib.platform.logs import log


def _access_line(handler: Any, format: str, *args: Any) -> None:
    log.info(format % args, extra={'client': handler.address_string()})


handler_class: Any = local.ChaliceRequestHandler
handler_class.do_TRACE = handler_class._generic_handle
handler_class.log_message = _access_line

if __name__ == '__main__':
    sys.exit(main())
