"""What a route or a Lambda handler is called with, typed as it is at run time."""

from __future__ import annotations

from typing import cast

from chalice import Chalice
from chalice.app import BaseLambdaEvent, Request

from chalicelib.core.clock import LambdaContext


def current_request(app: Chalice) -> Request:
    """The request the running route answers: Chalice sets it before every
    route call, so only a call from outside a route finds none."""
    request = app.current_request
    assert request is not None, 'no request outside a route'
    return request


def lambda_context(event: BaseLambdaEvent) -> LambdaContext:
    """The context Lambda handed with `event`. Chalice annotates it as an
    optional dict, but what it holds is Lambda's context object."""
    return cast(LambdaContext, event.context)
