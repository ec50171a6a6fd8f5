"""What every view of the API goes through: authentication first (for a
protected route), then the view, its domain refusals turned into error answers.

Authentication and the domain's errors stay here, not in middleware: a view
gets its Principal as an argument, which middleware cannot pass, and Chalice
turns whatever a view raises into a 500 before middleware sees it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Chalice

from chalicelib import identity
from chalicelib.api.errors import error_response
from chalicelib.core.errors import OrderServiceError, Unauthenticated
from chalicelib.platform import logs
from chalicelib.storage.availability import unavailable_on_driver_error

View = Callable[..., Any]


class Views:
    """The decorators of one app's views (`app.current_request` is read here,
    and only for the Authorization header)."""

    def __init__(self, app: Chalice) -> None:
        self.app = app

    def protected(self, view: View) -> View:
        """A protected route: the bearer token is verified before anything
        else, and the view gets the caller's Principal first. The domain's
        refusals become the API's error answers."""

        @functools.wraps(view)
        def handle(*args: Any, **kwargs: Any) -> Any:
            return self._serve(view, args, kwargs, authenticate=True)

        return handle

    def public(self, view: View) -> View:
        """A route anyone may call (health, the API reference)."""

        @functools.wraps(view)
        def handle(*args: Any, **kwargs: Any) -> Any:
            return self._serve(view, args, kwargs, authenticate=False)

        return handle

    def _serve(
        self, view: View, args: tuple[Any, ...], kwargs: dict[str, Any], authenticate: bool
    ) -> Any:
        try:
            with unavailable_on_driver_error():
                if authenticate:
                    request = self.app.current_request
                    principal = identity.authenticate(
                        request.headers.get('authorization') if request else None
                    )
                    args = (principal, *args)
                return view(*args, **kwargs)
        except Unauthenticated as exc:
            logs.log.warning('Unauthenticated request: %s', exc.reason)
            return error_response(exc)
        except OrderServiceError as exc:
            return error_response(exc)
