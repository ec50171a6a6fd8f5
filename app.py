"""Orders service: HTTP in, a call of the order domain, HTTP out."""
import functools
import random
import re

from chalice import Chalice, ConvertToMiddleware, Rate, Response

from chalicelib import identity, logs, runtime, tracing
from chalicelib.api import reference
from chalicelib.catalog import schemas as catalog_schemas
from chalicelib.clock import time_left
from chalicelib.config import get_settings
from chalicelib.errors import (DatabaseUnavailable, ExportTooLarge, Forbidden,
                               IdempotencyKeyInFlight,
                               IdempotencyKeyReused, InvalidInput,
                               OrderNotFound, OrderServiceError, OutOfStock,
                               PayloadTooLarge, PaymentConflict, PaymentProviderRefused,
                               PaymentProviderUnavailable, PaymentsNotConfigured,
                               PriceChanged, ProductNotFound, SkuTaken, TooManyConnections,
                               TransitionForbidden, Unauthenticated,
                               VersionMismatch)
from chalicelib.events.relay import RELAY_MARGIN_SECONDS, relay
from chalicelib.orders import expiry, idempotency, schemas
from chalicelib.payments import schemas as payment_schemas
from chalicelib.payments.refunds import REFUND_MARGIN_SECONDS
from chalicelib.storage import connection, retention
from chalicelib.storage.migrations import migrate

app = Chalice(app_name='orders', configure_logs=False)
logs.configure(get_settings().log_level)

# Middleware, outermost first. Every invocation: the Lambda context on each
# log line (cold_start, function_request_id, ...), the keys of the one
# before cleared; never the event, which carries the bearer token
# (log_event=False wins over POWERTOOLS_LOGGER_LOG_EVENT). Then its trace.
app.register_middleware(ConvertToMiddleware(
    logs.log.inject_lambda_context(log_event=False, clear_state=True)), 'all')
app.register_middleware(ConvertToMiddleware(tracing.traced_handler), 'all')
_PATH_ID = re.compile(r'[1-9][0-9]{0,18}')


@app.middleware('http')
def request_log_context(event, get_response):
    """request_id on every line of a request, and order_id on those of a
    request for one order (also a refused one's, and a 503's cause)."""
    order_id = (event.uri_params or {}).get('order_id', '')
    logs.log.append_keys(
        request_id=getattr(event.lambda_context, 'aws_request_id', None),
        order_id=int(order_id) if _PATH_ID.fullmatch(order_id) else None)
    return get_response(event)


ERROR_STATUS = [
    (InvalidInput, 400, 'BadRequestError'),
    (Unauthenticated, 401, 'UnauthorizedError'),
    (Forbidden, 403, 'ForbiddenError'),
    (OrderNotFound, 404, 'NotFoundError'),
    (ProductNotFound, 404, 'NotFoundError'),
    (TransitionForbidden, 409, 'ConflictError'),
    (PriceChanged, 409, 'ConflictError'),
    (OutOfStock, 409, 'ConflictError'),
    (SkuTaken, 409, 'ConflictError'),
    (PaymentConflict, 409, 'ConflictError'),
    (IdempotencyKeyInFlight, 409, 'ConflictError'),
    (VersionMismatch, 412, 'PreconditionFailed'),
    (PayloadTooLarge, 413, 'RequestEntityTooLargeError'),
    (ExportTooLarge, 413, 'RequestEntityTooLargeError'),
    (IdempotencyKeyReused, 422, 'UnprocessableEntityError'),
    (PaymentsNotConfigured, 501, 'NotImplementedError'),
    (DatabaseUnavailable, 503, 'ServiceUnavailable'),
    (PaymentProviderUnavailable, 503, 'ServiceUnavailable'),
    (PaymentProviderRefused, 502, 'BadGatewayError'),
]
_ETAG = re.compile(r'"([0-9]{1,9})"|([0-9]{1,9})')


def error_response(exc):
    for error_class, status, code in ERROR_STATUS:
        if isinstance(exc, error_class):
            body = {'Code': code, 'Message': str(exc)}
            if exc.errors:
                body['errors'] = exc.errors
            headers = {}
            if status == 503:
                headers['Retry-After'] = retry_after(exc)
            elif status == 401:
                headers['WWW-Authenticate'] = identity.challenge(exc)
            return Response(body=body, status_code=status, headers=headers)
    raise exc


def retry_after(exc):
    # Copies turned away for want of a connection would otherwise all come
    # back in the same second and be turned away again: spread them.
    return str(random.randint(1, 3)) if isinstance(exc, TooManyConnections) else '1'


def _serve(view, args, kwargs, authenticate):
    """Authentication and the domain's errors stay here, not in middleware:
    a view gets its Principal as an argument, which middleware cannot pass,
    and Chalice turns whatever a view raises into a 500 before middleware
    sees it."""
    try:
        if authenticate:
            principal = identity.authenticate(
                app.current_request.headers.get('authorization'))
            args = (principal, *args)
        return view(*args, **kwargs)
    except Unauthenticated as exc:
        logs.log.warning('Unauthenticated request: %s', exc.reason)
        return error_response(exc)
    except OrderServiceError as exc:
        return error_response(exc)
    except connection.CONNECTION_ERRORS as exc:
        return error_response(connection.unavailable(exc))


def api(view):
    """A protected route: the bearer token is verified before anything else,
    and the view gets the caller's Principal first. The domain's refusals
    become the API's error answers."""
    @functools.wraps(view)
    def handle(*args, **kwargs):
        return _serve(view, args, kwargs, authenticate=True)
    return handle


def public_api(view):
    """A route anyone may call (health, the API reference)."""
    @functools.wraps(view)
    def handle(*args, **kwargs):
        return _serve(view, args, kwargs, authenticate=False)
    return handle


def order_response(order, status_code=200, headers=None):
    headers = {'ETag': f'"{order["version"]}"', **(headers or {})}
    return Response(body=order, status_code=status_code, headers=headers)


def expected_version(headers):
    value = headers.get('if-match')
    if value is None or value.strip() == '*':
        return None
    value = value.strip()
    weak = value.startswith('W/')
    match = _ETAG.fullmatch(value[2:] if weak else value)
    if match and weak:
        # If-Match compares strongly: a weak tag never matches (RFC 9110 13.1.1).
        raise VersionMismatch('A weak ETag never matches If-Match')
    if not match:
        raise InvalidInput('Invalid If-Match header', {
            'If-Match': ['Must be an ETag of what is changed, such as "1".']})
    return int(match.group(1) or match.group(2))


@app.route('/orders', methods=['POST'])
@api
def create_order(principal):
    request = app.current_request
    body = schemas.parse_json_object(request.raw_body)
    data = schemas.load_create_order(body)
    key = request.headers.get('idempotency-key')
    if key is not None:
        key = idempotency.validate_key(key)
    created = runtime.order_service().create_order(
        principal, data, key, idempotency.fingerprint(body) if key else None)
    headers = {'Location': f'/orders/{created.body["order_id"]}'}
    if created.replayed:
        headers['Idempotent-Replayed'] = 'true'
    return order_response(created.body, 201, headers)


@app.route('/orders', methods=['GET'])
@api
def list_orders(principal):
    query = schemas.load_list_query(app.current_request.query_params)
    return runtime.order_service().list_orders(principal, query)


@app.route('/orders/{order_id}', methods=['GET'])
@api
def get_order(principal, order_id):
    order_id = schemas.load_path_id(order_id)
    return order_response(runtime.order_service().get_order(principal, order_id))


@app.route('/orders/{order_id}', methods=['PUT'])
@api
def update_order(principal, order_id):
    request = app.current_request
    order_id = schemas.load_path_id(order_id)
    data = schemas.load_update_order(schemas.parse_json_object(request.raw_body))
    version = expected_version(request.headers)
    status = data.pop('status')
    return order_response(runtime.order_service().update_status(
        principal, order_id, status, version, details=data))


@app.route('/orders/{order_id}/history', methods=['GET'])
@api
def get_order_history(principal, order_id):
    order_id = schemas.load_path_id(order_id)
    return runtime.order_service().order_history(principal, order_id)


@app.route('/orders/{order_id}', methods=['DELETE'])
@api
def delete_order(principal, order_id):
    order_id = schemas.load_path_id(order_id)
    runtime.order_service().delete_order(principal, order_id)
    return Response(body='', status_code=204)


@app.route('/users/{user_id}/orders', methods=['GET'])
@api
def list_user_orders(principal, user_id):
    user_id = schemas.load_path_id(user_id, 'user_id')
    query = schemas.load_list_query(app.current_request.query_params, for_user=True)
    return runtime.order_service().list_orders(principal, query, user_id=user_id)


@app.route('/users/{user_id}/orders/export', methods=['GET'])
@api
def export_user_orders(principal, user_id):
    user_id = schemas.load_path_id(user_id, 'user_id')
    query = schemas.load_export_query(app.current_request.query_params)
    text = runtime.order_service().export_orders(principal, user_id, query)
    return Response(body=text, status_code=200, headers={
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': f'attachment; filename="orders-{user_id}.csv"'})


@app.route('/orders/{order_id}/payment', methods=['POST'])
@api
def start_payment(principal, order_id):
    order_id = schemas.load_path_id(order_id)
    return runtime.payment_service().start_payment(principal, order_id)


@app.route('/webhooks/stripe', methods=['POST'])
@public_api
def stripe_webhook():
    """No bearer token: Stripe signs the raw body instead."""
    request = app.current_request
    return runtime.payment_service().handle_webhook(
        request.raw_body, request.headers.get('stripe-signature'))


@app.route('/orders/{order_id}/refunds', methods=['POST'])
@api
def create_refund(principal, order_id):
    request = app.current_request
    order_id = schemas.load_path_id(order_id)
    body = schemas.parse_json_object(request.raw_body)
    data = payment_schemas.load_refund_request(body)
    key = request.headers.get('idempotency-key')
    if key is not None:
        key = idempotency.validate_key(key)
    refund, replayed = runtime.refund_service().request_refund(
        principal, order_id, data, key, idempotency.fingerprint(body) if key else None)
    headers = {'Location': f'/orders/{order_id}/refunds/{refund["refund_id"]}'}
    if replayed:
        headers['Idempotent-Replayed'] = 'true'
    return Response(body=refund, status_code=201, headers=headers)


@app.route('/orders/{order_id}/refunds', methods=['GET'])
@api
def list_refunds(principal, order_id):
    order_id = schemas.load_path_id(order_id)
    return runtime.refund_service().list_refunds(principal, order_id)


@app.route('/orders/{order_id}/refunds/{refund_id}', methods=['GET'])
@api
def get_refund(principal, order_id, refund_id):
    order_id = schemas.load_path_id(order_id)
    refund_id = schemas.load_path_id(refund_id, 'refund_id')
    return runtime.refund_service().get_refund(principal, order_id, refund_id)


@app.route('/products/{product_id}', methods=['PUT'])
@api
def put_product(principal, product_id):
    request = app.current_request
    product_id = catalog_schemas.load_product_id(product_id)
    data = catalog_schemas.load_product(schemas.parse_json_object(request.raw_body))
    written = runtime.catalog_service().put_product(
        principal, product_id, data, expected_version(request.headers))
    return Response(body=written.body, status_code=201 if written.created else 200,
                    headers={'ETag': f'"{written.body["version"]}"'})


@app.route('/products/{product_id}', methods=['GET'])
@api
def get_product(principal, product_id):
    product = runtime.catalog_service().get_product(
        principal, catalog_schemas.load_product_id(product_id))
    return Response(body=product, headers={'ETag': f'"{product["version"]}"'})


@app.route('/products', methods=['GET'])
@api
def list_products(principal):
    query = catalog_schemas.load_list_query(app.current_request.query_params)
    return runtime.catalog_service().list_products(principal, query)


@app.route('/health', methods=['GET'])
@public_api
def health():
    try:
        runtime.database().execute_sql('SELECT 1')
    except DatabaseUnavailable as exc:
        error = exc
    except connection.CONNECTION_ERRORS as exc:
        error = connection.unavailable(exc)
    else:
        return {'status': 'ok', 'database': 'ok'}
    return Response(body={'status': 'error', 'database': 'unreachable'},
                    status_code=503, headers={'Retry-After': retry_after(error)})


@app.route('/openapi.json', methods=['GET'])
@public_api
def openapi_document():
    return Response(body=reference.openapi_json(),
                    headers={'Content-Type': 'application/json'})


@app.route('/docs', methods=['GET'])
@public_api
def api_docs():
    body, headers = reference.docs_page()
    return Response(body=body, headers=headers)


@app.on_sqs_message(queue=get_settings().notify_queue, batch_size=10, maximum_concurrency=5)
def email_notifier(event):
    try:
        runtime.database()
    except DatabaseUnavailable:
        # One connect timeout for the batch, not one per record.
        logs.log.error('Database unavailable: the whole batch will be retried')
        return {'batchItemFailures': [{'itemIdentifier': record.to_dict()['messageId']}
                                      for record in event]}
    return runtime.notifier().handle_batch(event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def outbox_relay(event):
    runtime.database()
    published = relay(runtime.publisher(), time_left(event.context, RELAY_MARGIN_SECONDS))
    logs.log.info('Outbox relay published %s events', published)
    return {'published': published}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def refund_relay(event):
    """Sends the refunds requests left to it (Stripe down or slow, a crash)."""
    runtime.database()
    answered = runtime.refund_service().relay(time_left(event.context, REFUND_MARGIN_SECONDS))
    logs.log.info('Refund relay: Stripe answered for %s refunds', answered)
    return {'answered': answered}


@app.schedule(Rate(1, unit=Rate.HOURS))
def housekeeping(event):
    runtime.database()
    deleted = retention.clean_up(get_settings().outbox_retention,
                                 time_left(event.context, retention.MARGIN_SECONDS))
    logs.log.info('Housekeeping deleted %s', deleted)
    return {'deleted': deleted}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def expire_unpaid(event):
    window = get_settings().payment_window
    if window is None:
        return {'expired': 0}
    runtime.database()
    service = runtime.order_service()
    expired = expiry.expire_unpaid(service, window, service.clock(),
                                   time_left(event.context, 0))
    logs.log.info('Expired %s unpaid orders', expired)
    return {'expired': expired}


@app.lambda_function(name='migrate')
def migrate_function(event, context):
    """Run inside the VPC after a deploy: `chalice invoke -n migrate`."""
    return migrate(get_settings())
