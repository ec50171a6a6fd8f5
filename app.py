"""Orders service: HTTP in, a call of the order domain, HTTP out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import __version__
from chalicelib.api import middleware, reference
from chalicelib.api.decorators import Views
from chalicelib.api.errors import retry_after
from chalicelib.api.http import expected_version, path_id, versioned_response
from chalicelib.api.invocation import current_request, lambda_context
from chalicelib.core.clock import time_left
from chalicelib.core.errors import DatabaseUnavailable
from chalicelib.core.lazy import lazy_import
from chalicelib.events.relay import RELAY_MARGIN_SECONDS, relay
from chalicelib.identity.principal import Principal
from chalicelib.orders import counts, idempotency
from chalicelib.payments.refunds import REFUND_MARGIN_SECONDS
from chalicelib.platform import logs
from chalicelib.platform.config import get_settings
from chalicelib.storage import availability
from chalicelib.wiring import runtime

# Loaded by the first request with a body or a query (marshmallow), not by a GET of one order.
schemas = lazy_import('chalicelib.orders.schemas')
# Loaded by the first request for a code or a zone, not by a GET of one order.
discounts = lazy_import('chalicelib.orders.discounts')
shipping_methods = lazy_import('chalicelib.orders.shipping_methods')
tax_rates = lazy_import('chalicelib.orders.tax_rates')
catalog_schemas = lazy_import('chalicelib.catalog.schemas')
payment_schemas = lazy_import('chalicelib.payments.schemas')
return_schemas = lazy_import('chalicelib.returns.schemas')
# Only expire_unpaid's Lambda needs it.
expiry = lazy_import('chalicelib.orders.expiry')
# Only the clean-up and migrate functions need them (and, for the schema,
# an API copy whose AUTO_MIGRATE is on: wiring/runtime.py).
retention = lazy_import('chalicelib.storage.retention')
migrations = lazy_import('chalicelib.storage.migrations')
if TYPE_CHECKING:
    from chalicelib.storage.migrations import Migrated

app = Chalice(app_name='orders', configure_logs=False)
logs.configure(get_settings().log_level)
middleware.install(app)
views = Views(app)
api = views.protected
public_api = views.public


@app.route('/orders', methods=['POST'])
@api
def create_order(principal: Principal) -> Response:
    request = current_request(app)
    body = schemas.parse_json_object(request.raw_body)
    data = schemas.load_create_order(body)
    key = request.headers.get('idempotency-key')
    if key is not None:
        key = idempotency.validate_key(key)
    created = runtime.order_service().create_order(
        principal, data, key, idempotency.fingerprint(body) if key else None
    )
    headers = {'Location': f'/orders/{created.body["order_id"]}'}
    if created.replayed:
        headers['Idempotent-Replayed'] = 'true'
    return versioned_response(created.body, 201, headers)


@app.route('/orders/quote', methods=['POST'])
@api
def quote_order(principal: Principal) -> dict[str, Any]:
    data = schemas.load_create_order(schemas.parse_json_object(current_request(app).raw_body))
    return runtime.order_service().quote_order(principal, data)


@app.route('/orders', methods=['GET'])
@api
def list_orders(principal: Principal) -> dict[str, Any]:
    query = schemas.load_list_query(current_request(app).query_params)
    return runtime.order_service().list_orders(principal, query)


@app.route('/orders/{order_id}', methods=['GET'])
@api
def get_order(principal: Principal, order_id: str) -> Response:
    return versioned_response(runtime.order_service().get_order(principal, path_id(order_id)))


@app.route('/orders/{order_id}', methods=['PUT'])
@api
def update_order(principal: Principal, order_id: str) -> Response:
    request = current_request(app)
    order = path_id(order_id)
    update = schemas.load_update_order(
        schemas.parse_json_object(request.raw_body), get_settings().tracking_url_hosts
    )
    version = expected_version(request.headers)
    return versioned_response(
        runtime.order_service().update_status(principal, order, update, version)
    )


@app.route('/orders/{order_id}/history', methods=['GET'])
@api
def get_order_history(principal: Principal, order_id: str) -> list[dict[str, Any]]:
    return runtime.order_service().order_history(principal, path_id(order_id))


@app.route('/orders/{order_id}', methods=['DELETE'])
@api
def delete_order(principal: Principal, order_id: str) -> Response:
    runtime.order_service().delete_order(principal, path_id(order_id))
    return Response(body='', status_code=204)


@app.route('/users/{user_id}/orders', methods=['GET'])
@api
def list_user_orders(principal: Principal, user_id: str) -> dict[str, Any]:
    user = path_id(user_id, 'user_id')
    query = schemas.load_list_query(current_request(app).query_params, for_user=True)
    return runtime.order_service().list_orders(principal, query, user_id=user)


@app.route('/users/{user_id}/orders/export', methods=['GET'])
@api
def export_user_orders(principal: Principal, user_id: str) -> Response:
    user = path_id(user_id, 'user_id')
    query = schemas.load_export_query(current_request(app).query_params)
    text = runtime.order_service().export_orders(principal, user, query)
    return Response(
        body=text,
        status_code=200,
        headers={
            'Content-Type': 'text/csv; charset=utf-8',
            'Content-Disposition': f'attachment; filename="orders-{user}.csv"',
        },
    )


@app.route('/orders/{order_id}/payment', methods=['POST'])
@api
def start_payment(principal: Principal, order_id: str) -> dict[str, Any]:
    return runtime.payment_service().start_payment(principal, path_id(order_id))


@app.route('/webhooks/stripe', methods=['POST'])
@public_api
def stripe_webhook() -> dict[str, Any]:
    """No bearer token: Stripe signs the raw body instead."""
    request = current_request(app)
    return runtime.payment_service().handle_webhook(
        request.raw_body, request.headers.get('stripe-signature')
    )


@app.route('/orders/{order_id}/refunds', methods=['POST'])
@api
def create_refund(principal: Principal, order_id: str) -> Response:
    request = current_request(app)
    order = path_id(order_id)
    body = schemas.parse_json_object(request.raw_body)
    data = payment_schemas.load_refund_request(body)
    key = request.headers.get('idempotency-key')
    if key is not None:
        key = idempotency.validate_key(key)
    refund, replayed = runtime.refund_service().request_refund(
        principal, order, data, key, idempotency.fingerprint(body) if key else None
    )
    headers: dict[str, str | list[str]] = {
        'Location': f'/orders/{order}/refunds/{refund["refund_id"]}'
    }
    if replayed:
        headers['Idempotent-Replayed'] = 'true'
    return Response(body=refund, status_code=201, headers=headers)


@app.route('/orders/{order_id}/refunds', methods=['GET'])
@api
def list_refunds(principal: Principal, order_id: str) -> list[dict[str, Any]]:
    return runtime.refund_service().list_refunds(principal, path_id(order_id))


@app.route('/orders/{order_id}/refunds/{refund_id}', methods=['GET'])
@api
def get_refund(principal: Principal, order_id: str, refund_id: str) -> dict[str, Any]:
    return runtime.refund_service().get_refund(
        principal, path_id(order_id), path_id(refund_id, 'refund_id')
    )


@app.route('/orders/{order_id}/returns', methods=['POST'])
@api
def open_return(principal: Principal, order_id: str) -> Response:
    request = current_request(app)
    order = path_id(order_id)
    body = schemas.parse_json_object(request.raw_body)
    data = return_schemas.load_new_return(body)
    key = request.headers.get('idempotency-key')
    if key is not None:
        key = idempotency.validate_key(key)
    opened, replayed = runtime.return_service().open_return(
        principal, order, data, key, idempotency.fingerprint(body) if key else None
    )
    headers = {'Location': f'/orders/{order}/returns/{opened["return_id"]}'}
    if replayed:
        headers['Idempotent-Replayed'] = 'true'
    return versioned_response(opened, 201, headers)


@app.route('/orders/{order_id}/returns', methods=['GET'])
@api
def list_returns(principal: Principal, order_id: str) -> list[dict[str, Any]]:
    return runtime.return_service().list_returns(principal, path_id(order_id))


@app.route('/orders/{order_id}/returns/{return_id}', methods=['GET'])
@api
def get_return(principal: Principal, order_id: str, return_id: str) -> Response:
    return versioned_response(
        runtime.return_service().get_return(
            principal, path_id(order_id), path_id(return_id, 'return_id')
        )
    )


@app.route('/orders/{order_id}/returns/{return_id}', methods=['PUT'])
@api
def update_return(principal: Principal, order_id: str, return_id: str) -> Response:
    request = current_request(app)
    order, returned = path_id(order_id), path_id(return_id, 'return_id')
    update = return_schemas.load_return_update(schemas.parse_json_object(request.raw_body))
    version = expected_version(request.headers, 'return')
    return versioned_response(
        runtime.return_service().update_return(principal, order, returned, update, version)
    )


@app.route('/products/{product_id}', methods=['PUT'])
@api
def put_product(principal: Principal, product_id: str) -> Response:
    request = current_request(app)
    product = path_id(product_id, 'product_id')
    data = catalog_schemas.load_product(schemas.parse_json_object(request.raw_body))
    written = runtime.catalog_service().put_product(
        principal, product, data, expected_version(request.headers, 'product')
    )
    return versioned_response(written.body, 201 if written.created else 200)


@app.route('/products/{product_id}', methods=['GET'])
@api
def get_product(principal: Principal, product_id: str) -> Response:
    return versioned_response(
        runtime.catalog_service().get_product(principal, path_id(product_id, 'product_id'))
    )


@app.route('/products', methods=['GET'])
@api
def list_products(principal: Principal) -> dict[str, Any]:
    query = catalog_schemas.load_list_query(current_request(app).query_params)
    return runtime.catalog_service().list_products(principal, query)


@app.route('/shipping-methods/{code}', methods=['PUT'])
@api
def put_shipping_method(principal: Principal, code: str) -> Response:
    request = current_request(app)
    command = schemas.load_shipping_method(schemas.parse_json_object(request.raw_body))
    written = runtime.shipping_method_service().put(
        principal,
        shipping_methods.path_code(code),
        command,
        expected_version(request.headers, 'shipping method'),
    )
    return versioned_response(written.body, 201 if written.created else 200)


@app.route('/shipping-methods/{code}', methods=['GET'])
@api
def get_shipping_method(principal: Principal, code: str) -> Response:
    return versioned_response(
        runtime.shipping_method_service().get(principal, shipping_methods.path_code(code))
    )


@app.route('/shipping-methods', methods=['GET'])
@api
def list_shipping_methods(principal: Principal) -> dict[str, Any]:
    query = schemas.load_shipping_method_query(current_request(app).query_params)
    return runtime.shipping_method_service().list(principal, query)


@app.route('/discounts/{code}', methods=['PUT'])
@api
def put_discount(principal: Principal, code: str) -> Response:
    request = current_request(app)
    command = schemas.load_discount(schemas.parse_json_object(request.raw_body))
    written = runtime.discount_service().put(
        principal,
        discounts.path_code(code),
        command,
        expected_version(request.headers, 'discount code'),
    )
    return versioned_response(written.body, 201 if written.created else 200)


@app.route('/discounts/{code}', methods=['GET'])
@api
def get_discount(principal: Principal, code: str) -> Response:
    return versioned_response(runtime.discount_service().get(principal, discounts.path_code(code)))


@app.route('/discounts', methods=['GET'])
@api
def list_discounts(principal: Principal) -> dict[str, Any]:
    return runtime.discount_service().list(principal)


@app.route('/tax-rates/{zone}', methods=['PUT'])
@api
def put_tax_rate(principal: Principal, zone: str) -> Response:
    command = schemas.load_tax_rate(schemas.parse_json_object(current_request(app).raw_body))
    written = runtime.tax_rate_service().put(principal, tax_rates.path_zone(zone), command)
    return Response(body=written.body, status_code=201 if written.created else 200)


@app.route('/tax-rates/{zone}', methods=['GET'])
@api
def get_tax_rate(principal: Principal, zone: str) -> dict[str, Any]:
    return runtime.tax_rate_service().get(principal, tax_rates.path_zone(zone))


@app.route('/tax-rates/{zone}', methods=['DELETE'])
@api
def delete_tax_rate(principal: Principal, zone: str) -> Response:
    runtime.tax_rate_service().delete(principal, tax_rates.path_zone(zone))
    return Response(body='', status_code=204)


@app.route('/tax-rates', methods=['GET'])
@api
def list_tax_rates(principal: Principal) -> dict[str, Any]:
    return runtime.tax_rate_service().list(principal)


@app.route('/health', methods=['GET'])
@public_api
def health() -> Response | dict[str, str]:
    try:
        runtime.database()
        availability.ping()
    except DatabaseUnavailable as exc:
        return Response(
            body={'status': 'error', 'database': 'unreachable', 'version': __version__},
            status_code=503,
            headers={'Retry-After': retry_after(exc)},
        )
    return {'status': 'ok', 'database': 'ok', 'version': __version__}


@app.route('/openapi.json', methods=['GET'])
@public_api
def openapi_document() -> Response:
    return Response(
        body=reference.openapi_json(),
        headers={'Content-Type': 'application/json', 'Cache-Control': reference.CACHE_CONTROL},
    )


@app.route('/docs', methods=['GET'])
@public_api
def api_docs() -> Response:
    body, headers = reference.docs_page()
    return Response(body=body, headers=headers)


@app.on_sqs_message(queue=get_settings().notify_queue, batch_size=10, maximum_concurrency=5)
def email_notifier(event: SQSEvent) -> Mapping[str, object]:
    return runtime.notifier().handle_batch(event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def outbox_relay(event: CloudWatchEvent) -> dict[str, int]:
    runtime.database()
    published = relay(runtime.publisher(), time_left(lambda_context(event), RELAY_MARGIN_SECONDS))
    logs.log.info('Outbox relay published %s events', published)
    return {'published': published}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def refund_relay(event: CloudWatchEvent) -> dict[str, int]:
    """Sends the refunds requests left to it (Stripe down or slow, a crash),
    and cancels the PaymentIntents of gone orders that Stripe did not take."""
    runtime.database()
    left = time_left(lambda_context(event), REFUND_MARGIN_SECONDS)
    answered = runtime.refund_service().relay(left)
    logs.log.info('Refund relay: Stripe answered for %s refunds', answered)
    cancelled = runtime.intent_cancellations().relay(left)
    if cancelled:
        logs.log.info('Refund relay: %s PaymentIntents of gone orders cancelled', cancelled)
    return {'answered': answered, 'intents_cancelled': cancelled}


@app.schedule(Rate(1, unit=Rate.HOURS))
def housekeeping(event: CloudWatchEvent) -> dict[str, dict[str, int]]:
    runtime.database()
    deleted = retention.clean_up(
        get_settings().outbox_retention,
        idempotency.KEY_TTL,
        time_left(lambda_context(event), retention.MARGIN_SECONDS),
    )
    logs.log.info('Housekeeping deleted %s', deleted)
    return {'deleted': deleted}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def expire_unpaid(event: CloudWatchEvent) -> dict[str, int]:
    window = get_settings().payment_window
    if window is None:
        return {'expired': 0}
    runtime.database()
    service = runtime.order_service()
    payments = runtime.payment_service() if runtime.stripe_gateway() is not None else None
    expired = expiry.expire_unpaid(
        service,
        window,
        service.clock(),
        time_left(lambda_context(event), 0),
        paid_meanwhile=payments.apply_if_paid if payments is not None else None,
    )
    logs.log.info('Expired %s unpaid orders', expired)
    return {'expired': expired}


@app.lambda_function(name='migrate')
def migrate_function(event: dict[str, Any], context: Any) -> Migrated:
    """Run inside the VPC after a deploy: `chalice invoke -n migrate`."""
    return migrations.migrate(get_settings(), counts.recount)
