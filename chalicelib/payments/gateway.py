"""Stripe, through the `stripe` library: the only module that imports it, and
only when a payment, a webhook or a refund needs it (the import costs a cold
start about 0.2 s that no other request should pay).

Two clients per container, made on first use and kept: one for requests
(one attempt, short timeouts: a request that Stripe keeps waiting hands its
refund to the relay) and one for the relay (retries, patient). The secret key
and webhook secret come from the settings or a Secrets Manager secret
({api_key, webhook_secret}); neither is ever logged."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.core import clock
from chalicelib.core.errors import (
    InvalidInput,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    PaymentsNotConfigured,
)
from chalicelib.payments import rules
from chalicelib.platform.config import StripeSettings
from chalicelib.platform.logs import log

if TYPE_CHECKING:
    from chalicelib.payments import events

REQUEST, BACKGROUND = 'request', 'background'
# (connect, read) seconds and retries. A request waits at most about 5 s.
_CLIENTS = {REQUEST: ((2.0, 4.0), 0), BACKGROUND: ((3.0, 15.0), 2)}
WEBHOOK_TOLERANCE_SECONDS = 300
# A failed read of STRIPE_SECRET_ARN is tried again no sooner than this.
SECRET_RETRY_SECONDS = 30


class StripeGateway:
    def __init__(
        self, settings: StripeSettings, read_secret: Callable[[str], str] | None = None
    ) -> None:
        self._settings = settings
        self._read_secret = read_secret
        self._keys: tuple[str, str] | None = None
        self._failed_at: float | None = None  # when the secret last could not be read
        self._clients: dict[str, Any] = {}

    # -- keys ---------------------------------------------------------------
    @property
    def namespace(self) -> str:
        """This deployment's name in Stripe (metadata.deployment, idempotency keys)."""
        return self._settings.namespace

    def livemode(self) -> bool:
        """Whether the key moves real money: only live events are this
        deployment's then, and only test events with a test key."""
        return self._secrets()[0].startswith(('sk_live_', 'rk_live_'))

    def _secrets(self) -> tuple[str, str]:
        """(api_key, webhook_secret), read from Secrets Manager once."""
        if self._keys is None:
            if not self._settings.secret_arn:
                self._keys = (self._settings.api_key, self._settings.webhook_secret)
            else:
                self._keys = self._from_secret()
        return self._keys

    def _from_secret(self) -> tuple[str, str]:
        if self._read_secret is None:  # no way to read the secret it names
            raise PaymentsNotConfigured()
        if (
            self._failed_at is not None
            and clock.monotonic() - self._failed_at < SECRET_RETRY_SECONDS
        ):
            # As the JWKS: a Secrets Manager outage is not read again by
            # every webhook Stripe retries meanwhile.
            raise PaymentProviderUnavailable()
        try:
            value = json.loads(self._read_secret(self._settings.secret_arn))
            return str(value['api_key']), str(value.get('webhook_secret') or '')
        except (KeyError, TypeError, ValueError):
            # Say nothing of what the secret holds.
            log.error('The Stripe secret is not JSON {"api_key": ..., "webhook_secret": ...}')
            self._failed_at = clock.monotonic()
            raise PaymentsNotConfigured() from None
        except Exception as exc:
            log.error('Could not read the Stripe secret: %s', type(exc).__name__)
            self._failed_at = clock.monotonic()
            raise PaymentProviderUnavailable() from None

    def client(self, purpose: str = REQUEST) -> Any:
        if purpose not in self._clients:
            import stripe

            timeout, retries = _CLIENTS[purpose]
            api_key = self._secrets()[0]
            if not api_key:
                raise PaymentsNotConfigured()
            base: Any = {'api': self._settings.api_base} if self._settings.api_base else None
            self._clients[purpose] = stripe.StripeClient(
                api_key,
                base_addresses=base,
                max_network_retries=retries,
                http_client=stripe.RequestsClient(timeout=timeout),
            )
        return self._clients[purpose]

    # -- calls ----------------------------------------------------------------
    def create_payment_intent(self, amount: int, currency: str, order_id: int) -> dict:
        """The order's one PaymentIntent: its key makes a retried create (two
        clicks, a timeout) the same intent, and another deployment's order of
        the same id another one."""
        return self._call(
            lambda: self.client().v1.payment_intents.create(
                params={
                    'amount': amount,
                    'currency': currency.lower(),
                    'metadata': {'order_id': str(order_id), 'deployment': self.namespace},
                    'payment_method_types': ['card'],
                },
                options={'idempotency_key': rules.payment_key(self.namespace, order_id)},
            )
        )

    def payment_intent(self, payment_intent_id: str) -> dict:
        return self._call(lambda: self.client().v1.payment_intents.retrieve(payment_intent_id))

    def cancel_payment_intent(self, payment_intent_id: str, purpose: str) -> dict:
        """Cancel an intent nobody may pay any more. Stripe refuses one already
        cancelled or succeeded (PaymentProviderRefused): nothing left to do."""
        return self._call(lambda: self.client(purpose).v1.payment_intents.cancel(payment_intent_id))

    def create_refund(
        self, payment_intent_id: str, amount: int, refund_id: int, order_id: int, purpose: str
    ) -> dict:
        return self._call(
            lambda: self.client(purpose).v1.refunds.create(
                params={
                    'payment_intent': payment_intent_id,
                    'amount': amount,
                    'metadata': {
                        'refund_id': str(refund_id),
                        'order_id': str(order_id),
                        'deployment': self.namespace,
                    },
                },
                options={'idempotency_key': rules.refund_key(self.namespace, refund_id)},
            )
        )

    def refund_whole_intent(self, payment_intent_id: str, amount: int, order_id: int) -> dict:
        """Give back a payment that no order row can hold a refund of (its
        order was deleted): keyed by the PaymentIntent, so a redelivered
        webhook never refunds it twice."""
        return self._call(
            lambda: self.client().v1.refunds.create(
                params={
                    'payment_intent': payment_intent_id,
                    'amount': amount,
                    'metadata': {'order_id': str(order_id), 'deployment': self.namespace},
                },
                options={'idempotency_key': rules.refund_key(self.namespace, payment_intent_id)},
            )
        )

    def find_refund(self, payment_intent_id: str, refund_id: int, purpose: str) -> dict | None:
        """The Stripe refund made for this refund row, if one was (found by its
        metadata, which outlives Stripe's 24 h idempotency keys)."""
        listed = self._call(
            lambda: self.client(purpose).v1.refunds.list(
                params={'payment_intent': payment_intent_id, 'limit': 100}
            )
        )
        for refund in listed.get('data') or []:
            metadata = refund.get('metadata') or {}
            if metadata.get('refund_id') == str(refund_id) and metadata.get('deployment') in (
                self.namespace,
                None,  # sent before refunds carried their deployment
            ):
                return refund
        return None

    def verify_event(self, raw_body: bytes | str, signature: str | None) -> events.Event:
        """The event in a webhook body whose Stripe-Signature holds, read by
        events.parse; InvalidInput otherwise (the body is never logged)."""
        import stripe

        from chalicelib.payments import events

        secret = self._secrets()[1]
        if not secret:
            raise PaymentsNotConfigured('Stripe webhooks are not configured on this deployment')
        if not signature:
            raise InvalidInput('Missing Stripe-Signature header')
        if not signature.isascii():
            # The library compares digests with hmac.compare_digest, which
            # raises TypeError on a non-ASCII str: refused before it.
            raise InvalidInput('Invalid Stripe-Signature')
        try:
            # The library's own check (what Webhook.construct_event runs first),
            # without its building a StripeObject tree we would not read.
            stripe.WebhookSignature.verify_header(
                raw_body, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError):
            raise InvalidInput('Invalid Stripe-Signature') from None
        return events.parse(raw_body)

    def _call(self, call: Callable[[], Any]) -> dict:
        import stripe

        try:
            return call().to_dict()
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            log.warning('Stripe unreachable: %s', type(exc).__name__)
            raise PaymentProviderUnavailable() from None
        except stripe.StripeError as exc:
            status = getattr(exc, 'http_status', None) or 0
            if status >= 500 or status in (409, 429):
                log.warning('Stripe failed: HTTP %s', status)
                raise PaymentProviderUnavailable() from None
            log.error('Stripe refused the call: HTTP %s %s', status, exc.user_message or '')
            raise PaymentProviderRefused(
                f'Stripe refused the request: {exc.user_message or status}'
            ) from None
