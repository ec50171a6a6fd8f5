"""The domain's refusals as the API's error answers: each exception class maps
to one status and one Code, here and nowhere else."""

from __future__ import annotations

import random

from chalice import Response

from chalicelib import identity
from chalicelib.core.errors import (
    DatabaseUnavailable,
    DiscountNotFound,
    DiscountRefused,
    ExportTooLarge,
    Forbidden,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidInput,
    OrderNotFound,
    OrderServiceError,
    OutOfStock,
    PayloadTooLarge,
    PaymentConflict,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    PaymentsNotConfigured,
    PriceChanged,
    ProductNotFound,
    RefundInFlight,
    ReturnConflict,
    ShippingMethodNotFound,
    ShippingMethodRefused,
    SkuTaken,
    TaxRateNotFound,
    TooManyConnections,
    TooManyPendingOrders,
    TotalChanged,
    TransitionForbidden,
    Unauthenticated,
    VersionMismatch,
)

ERROR_STATUS: list[tuple[type[OrderServiceError], int, str]] = [
    (InvalidInput, 400, 'BadRequestError'),
    (Unauthenticated, 401, 'UnauthorizedError'),
    (Forbidden, 403, 'ForbiddenError'),
    (OrderNotFound, 404, 'NotFoundError'),
    (ProductNotFound, 404, 'NotFoundError'),
    (TaxRateNotFound, 404, 'NotFoundError'),
    (DiscountNotFound, 404, 'NotFoundError'),
    (DiscountRefused, 409, 'ConflictError'),
    (ShippingMethodNotFound, 404, 'NotFoundError'),
    (ShippingMethodRefused, 409, 'ConflictError'),
    (TransitionForbidden, 409, 'ConflictError'),
    (PriceChanged, 409, 'ConflictError'),
    (TotalChanged, 409, 'ConflictError'),
    (OutOfStock, 409, 'ConflictError'),
    (TooManyPendingOrders, 409, 'ConflictError'),
    (SkuTaken, 409, 'ConflictError'),
    (PaymentConflict, 409, 'ConflictError'),
    (RefundInFlight, 409, 'ConflictError'),
    (ReturnConflict, 409, 'ConflictError'),
    (IdempotencyKeyInFlight, 409, 'ConflictError'),
    (VersionMismatch, 412, 'PreconditionFailed'),
    (PayloadTooLarge, 413, 'RequestEntityTooLargeError'),
    (ExportTooLarge, 413, 'RequestEntityTooLargeError'),
    (IdempotencyKeyReused, 422, 'UnprocessableEntityError'),
    (PaymentsNotConfigured, 501, 'NotImplementedError'),
    (PaymentProviderRefused, 502, 'BadGatewayError'),
    (DatabaseUnavailable, 503, 'ServiceUnavailable'),
    (PaymentProviderUnavailable, 503, 'ServiceUnavailable'),
]


def error_response(exc: OrderServiceError) -> Response:
    for error_class, status, code in ERROR_STATUS:
        if isinstance(exc, error_class):
            body: dict[str, object] = {'Code': code, 'Message': str(exc)}
            if exc.errors:
                body['errors'] = exc.errors
            headers: dict[str, str | list[str]] = {}
            if status == 503:
                headers['Retry-After'] = retry_after(exc)
            elif isinstance(exc, Unauthenticated):
                headers['WWW-Authenticate'] = identity.challenge(exc)
            return Response(body=body, status_code=status, headers=headers)
    raise exc


def retry_after(exc: OrderServiceError) -> str:
    # Copies turned away for want of a connection would otherwise all come
    # back in the same second and be turned away again: spread them.
    return str(random.randint(1, 3)) if isinstance(exc, TooManyConnections) else '1'
