"""The Stripe gateway's keys and signature check, without a network: where
the keys come from, what a bad secret answers, and that no key is logged."""

import json
import time

import pytest

from chalicelib.core import clock
from chalicelib.core.errors import InvalidInput, PaymentProviderUnavailable, PaymentsNotConfigured
from chalicelib.payments.gateway import StripeGateway
from chalicelib.platform.config import StripeSettings, stripe_settings
from tests.stripe_support import WEBHOOK_SECRET, event_body, signature


def gateway(secret_string=None, error=None, **settings):
    def read_secret(arn):
        if error is not None:
            raise error
        return secret_string

    return StripeGateway(StripeSettings(**settings), read_secret=read_secret)


def test_no_stripe_settings_means_no_card_payments():
    assert stripe_settings({}) is None
    assert stripe_settings({'STRIPE_WEBHOOK_SECRET': WEBHOOK_SECRET}) is None


def test_the_settings_never_show_a_key():
    settings = stripe_settings(
        {'STRIPE_API_KEY': 'sk_test_shown', 'STRIPE_WEBHOOK_SECRET': 'whsec_shown'}
    )

    assert 'shown' not in repr(settings)


def test_keys_come_from_the_secret_once_per_container():
    reads = []

    def read_secret(arn):
        reads.append(arn)
        return json.dumps({'api_key': 'sk_test_1', 'webhook_secret': WEBHOOK_SECRET})

    made = StripeGateway(StripeSettings(secret_arn='arn:secret'), read_secret=read_secret)
    body = event_body('customer.created', {'id': 'cus_1'})

    made.verify_event(body, signature(body))
    made.verify_event(body, signature(body))

    assert reads == ['arn:secret']


def test_a_secret_that_is_not_the_expected_json_is_not_configured_and_not_logged(caplog):
    made = gateway('sk_live_oops', secret_arn='arn:secret')
    body = event_body('customer.created', {'id': 'cus_1'})

    with pytest.raises(PaymentsNotConfigured):
        made.verify_event(body, signature(body))
    assert 'sk_live_oops' not in caplog.text


def test_an_unreadable_secret_is_unavailable():
    made = gateway(error=ConnectionError('endpoint down'), secret_arn='arn:secret')

    with pytest.raises(PaymentProviderUnavailable):
        made.client()


def test_an_unreadable_secret_is_read_again_at_most_once_every_30_seconds(monkeypatch):
    """As the JWKS: 50 webhooks during a Secrets Manager outage are not 50 reads."""
    now = [1000.0]
    monkeypatch.setattr(clock, 'monotonic', lambda: now[0])
    reads = []

    def read_secret(arn):
        reads.append(arn)
        raise ConnectionError('endpoint down')

    made = StripeGateway(StripeSettings(secret_arn='arn:secret'), read_secret=read_secret)
    for _ in range(50):
        with pytest.raises(PaymentProviderUnavailable):
            made.client()
    now[0] += 29.9
    with pytest.raises(PaymentProviderUnavailable):
        made.client()
    assert len(reads) == 1

    now[0] += 0.2
    with pytest.raises(PaymentProviderUnavailable):
        made.client()
    assert len(reads) == 2


@pytest.mark.parametrize(
    'key, live', [('sk_live_1', True), ('rk_live_1', True), ('sk_test_1', False)]
)
def test_the_key_says_which_events_are_live(key, live):
    assert gateway(api_key=key).livemode() is live


# Built inside the test, never at collection: a header made from the clock
# while collecting would differ between xdist workers, and they would refuse
# to run ("Different tests were collected").
BAD_HEADERS = {
    'missing': lambda: None,
    'empty': lambda: '',
    'nonsense': lambda: 'nonsense',
    'another body': lambda: signature(b'{}'),
    'another secret': lambda: signature(b'x', 'whsec_other'),
    'too old': lambda: signature(b'x', WEBHOOK_SECRET, int(time.time()) - 301),
}


@pytest.mark.parametrize('case', sorted(BAD_HEADERS))
def test_a_body_without_its_valid_fresh_signature_is_refused(case):
    made = gateway(api_key='sk_test_1', webhook_secret=WEBHOOK_SECRET)

    with pytest.raises(InvalidInput):
        made.verify_event(b'x', BAD_HEADERS[case]())


def test_a_signed_body_that_is_not_an_event_is_refused():
    made = gateway(api_key='sk_test_1', webhook_secret=WEBHOOK_SECRET)
    body = b'[1, 2]'

    with pytest.raises(InvalidInput):
        made.verify_event(body, signature(body))


def test_without_a_webhook_secret_webhooks_are_not_configured():
    made = gateway(api_key='sk_test_1')
    body = event_body('customer.created', {'id': 'cus_1'})

    with pytest.raises(PaymentsNotConfigured):
        made.verify_event(body, signature(body))
