"""Orders service: HTTP in, a call of the order domain, HTTP out."""
import functools
import re

from chalice import Chalice, Response

from chalicelib import db, idempotency, logs, schemas
from chalicelib.config import get_settings
from chalicelib.errors import (DatabaseUnavailable, IdempotencyKeyInFlight,
                               IdempotencyKeyReused, InvalidInput,
                               OrderNotFound, OrderServiceError,
                               PayloadTooLarge, TransitionForbidden,
                               VersionMismatch)
from chalicelib.models import MODELS
from chalicelib.orders import OrderService

app = Chalice(app_name='orders', configure_logs=False)
logs.configure(get_settings().log_level)

_service = None

ERROR_STATUS = [
    (InvalidInput, 400, 'BadRequestError'),
    (OrderNotFound, 404, 'NotFoundError'),
    (TransitionForbidden, 409, 'ConflictError'),
    (IdempotencyKeyInFlight, 409, 'ConflictError'),
    (VersionMismatch, 412, 'PreconditionFailed'),
    (PayloadTooLarge, 413, 'RequestEntityTooLargeError'),
    (IdempotencyKeyReused, 422, 'UnprocessableEntityError'),
    (DatabaseUnavailable, 503, 'ServiceUnavailable'),
]
_ETAG = re.compile(r'(?:W/)?"?([0-9]{1,9})"?')


def get_service():
    """The order service on a live database connection, built once per container."""
    global _service
    settings = get_settings()
    if _service is None:
        db.open_database(settings)
        _service = OrderService()
    db.ready(MODELS, settings.auto_migrate)
    return _service


def error_response(exc):
    for error_class, status, code in ERROR_STATUS:
        if isinstance(exc, error_class):
            body = {'Code': code, 'Message': str(exc)}
            if exc.errors:
                body['errors'] = exc.errors
            headers = {'Retry-After': '1'} if status == 503 else {}
            return Response(body=body, status_code=status, headers=headers)
    raise exc


def api(view):
    """Run a view with the invocation's log context, and turn the domain's
    refusals into the contract's error answers."""
    @functools.wraps(view)
    def handle(*args, **kwargs):
        context = app.lambda_context
        logs.set_context(request_id=getattr(context, 'aws_request_id', None))
        try:
            return view(*args, **kwargs)
        except OrderServiceError as exc:
            return error_response(exc)
        except db.CONNECTION_ERRORS:
            logs.log.exception('Database connection failed')
            db.discard_connection()
            return error_response(DatabaseUnavailable())
    return handle


def order_response(order, status_code=200, headers=None):
    headers = {'ETag': f'"{order["version"]}"', **(headers or {})}
    return Response(body=order, status_code=status_code, headers=headers)


def expected_version(headers):
    value = headers.get('if-match')
    if value is None or value.strip() == '*':
        return None
    match = _ETAG.fullmatch(value.strip())
    if not match:
        raise InvalidInput('Invalid If-Match header', {
            'If-Match': ['Must be an ETag of this order, such as "1".']})
    return int(match.group(1))


@app.route('/orders', methods=['POST'])
@api
def create_order():
    request = app.current_request
    body = schemas.parse_json_object(request.raw_body)
    data = schemas.load_create_order(body)
    key = request.headers.get('idempotency-key')
    if key is not None:
        key = idempotency.validate_key(key)
    created = get_service().create_order(
        data, key, idempotency.fingerprint(body) if key else None)
    headers = {'Location': f'/orders/{created.body["order_id"]}'}
    if created.replayed:
        headers['Idempotent-Replayed'] = 'true'
    return order_response(created.body, 201, headers)


@app.route('/orders', methods=['GET'])
@api
def list_orders():
    query = schemas.load_list_query(app.current_request.query_params)
    return get_service().list_orders(query)


@app.route('/orders/{order_id}', methods=['GET'])
@api
def get_order(order_id):
    order_id = schemas.load_path_id(order_id)
    return order_response(get_service().get_order(order_id))


@app.route('/orders/{order_id}', methods=['PUT'])
@api
def update_order(order_id):
    request = app.current_request
    order_id = schemas.load_path_id(order_id)
    data = schemas.load_update_order(schemas.parse_json_object(request.raw_body))
    version = expected_version(request.headers)
    return order_response(
        get_service().update_status(order_id, data['status'], version))


@app.route('/orders/{order_id}', methods=['DELETE'])
@api
def delete_order(order_id):
    order_id = schemas.load_path_id(order_id)
    get_service().delete_order(order_id)
    return Response(body='', status_code=204)


@app.route('/users/{user_id}/orders', methods=['GET'])
@api
def list_user_orders(user_id):
    user_id = schemas.load_path_id(user_id, 'user_id')
    query = schemas.load_list_query(app.current_request.query_params,
                                    for_user=True)
    return get_service().list_orders(query, user_id=user_id)


@app.route('/health', methods=['GET'])
@api
def health():
    try:
        get_service()
        db.database.execute_sql('SELECT 1')
    except (DatabaseUnavailable, *db.CONNECTION_ERRORS):
        db.discard_connection()
        return Response(body={'status': 'error', 'database': 'unreachable'},
                        status_code=503, headers={'Retry-After': '1'})
    return {'status': 'ok', 'database': 'ok'}
