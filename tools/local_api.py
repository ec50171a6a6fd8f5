"""`chalice local` as its own command runs it, with two differences:

- a request of any method (TRACE, QUERY, ...) reaches the app (Chalice
  answers 405 in its error shape for a method no route takes) instead of
  the development server's own 501 page for a method it has no do_<METHOD>
  for, which a client or a fuzzer would take for a server error; in AWS,
  API Gateway answers such methods itself;
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


def _any_method(handler: Any, name: str) -> Any:
    # http.server looks for do_<METHOD> and answers 501 when there is none.
    if name.startswith('do_'):
        return handler._generic_handle
    raise AttributeError(name)


handler_class: Any = local.ChaliceRequestHandler
handler_class.__getattr__ = _any_method
handler_class.log_message = _access_line

if __name__ == '__main__':
    sys.exit(main())
