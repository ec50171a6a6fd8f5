"""Two deployments of the service sharing one Stripe account, as two stages
of one shop do: each with its own database and namespace (STRIPE_NAMESPACE
as its default would be, orders-<stage>), both reached by every event of the
account, as Stripe sends every event to every endpoint. From the attacker's
side too: events made up by whoever holds a webhook secret."""

import shutil

import pymysql
import pytest

from chalicelib.storage import connection
from chalicelib.storage.models import Refund
from chalicelib.wiring import runtime
from tests.stripe_support import (
    API_KEY,
    FaultyStripe,
    event_body,
    pay_with_card,
    signature,
)
from tests.support import (
    JSON,
    MARIADB,
    LambdaContext,
    create_order,
    json_of,
    mariadb_url,
    put,
    scheduled_event,
    send,
)


class Deployment:
    """One stage: its variables, set (and its database connected) for each
    call, so that the one process plays either stage in turn."""

    def __init__(self, stage, database_url, stripe, mail_dir, monkeypatch, app_module, client):
        self.stage = stage
        self.namespace = f'orders-{stage}'
        self.webhook_secret = f'whsec_{stage}_endpoint'
        self.env = {
            'STRIPE_NAMESPACE': self.namespace,
            'DATABASE_URL': database_url,
            'MAIL_DIR': str(mail_dir),
            'STRIPE_API_KEY': API_KEY,
            'STRIPE_WEBHOOK_SECRET': self.webhook_secret,
            'STRIPE_API_BASE': stripe.url,
        }
        self.stripe = stripe
        self._monkeypatch = monkeypatch
        self._app = app_module
        self._client = client

    def _use(self):
        if connection.database.obj is not None:
            connection.discard_connection()
        for name, value in self.env.items():
            self._monkeypatch.setenv(name, value)
        runtime.reset()

    def send(self, method, path, body=None):
        self._use()
        return send(self._client, method, path, body)

    def order(self, order_id):
        return json_of(self.send('GET', f'/orders/{order_id}'))

    def create_order(self, **kwargs):
        self._use()
        return create_order(self._client, **kwargs)

    def cancel(self, order_id):
        self._use()
        return put(self._client, order_id, 'cancelled')

    def start_payment(self, order_id):
        response = self.send('POST', f'/orders/{order_id}/payment')
        assert response.status_code == 200, response.body
        return json_of(response)

    def deliver(self, body):
        """A webhook body, signed with this endpoint's own secret, as Stripe does."""
        self._use()
        return self._client.http.request(
            'POST',
            '/webhooks/stripe',
            headers={
                **JSON,
                'Authorization': None,
                'Stripe-Signature': signature(body, self.webhook_secret),
            },
            body=body,
        )

    def refunds(self):
        self._use()
        runtime.database()  # this stage's
        return list(Refund.select())

    def number_orders_from(self, order_id):
        """This stage's next order gets `order_id` (its orders so far have lower ids)."""
        self._use()
        database = runtime.database()  # this stage's
        if connection.is_sqlite():
            database.execute_sql("DELETE FROM sqlite_sequence WHERE name = 'orders'")
            database.execute_sql(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('orders', ?)", (order_id - 1,)
            )
        else:
            database.execute_sql(f'ALTER TABLE orders AUTO_INCREMENT = {int(order_id)}')

    def relay_refunds(self):
        self._use()
        return self._app.refund_relay(scheduled_event(), LambdaContext(remaining_ms=3000))


@pytest.fixture
def second_database(database_url, tmp_path):
    """Stage B's database: another SQLite file, or another MariaDB database."""
    if database_url.startswith('sqlite'):
        path = tmp_path / 'b' / 'orders.sqlite3'
        path.parent.mkdir()
        shutil.copyfile(database_url[len('sqlite:///') :], path)
        yield f'sqlite:///{path}'
        return
    name = database_url.rsplit('/', 1)[1] + '_b'
    server = pymysql.connect(autocommit=True, **MARIADB)
    with server.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS `{name}`')
        cursor.execute(f'CREATE DATABASE `{name}`')
    yield mariadb_url(name)
    if connection.database.obj is not None:
        connection.discard_connection()
    with server.cursor() as cursor:
        cursor.execute(f'DROP DATABASE `{name}`')
    server.close()


@pytest.fixture
def stages(app_module, client, database_url, second_database, localstripe, tmp_path, monkeypatch):
    """(A, B): stages dev and prod, each with its own database, sharing one
    Stripe account (localstripe, behind a recording proxy)."""
    stripe = FaultyStripe(localstripe)
    a = Deployment(
        'dev', database_url, stripe, tmp_path / 'mail-a', monkeypatch, app_module, client
    )
    b = Deployment(
        'prod', second_database, stripe, tmp_path / 'mail-b', monkeypatch, app_module, client
    )
    yield a, b
    stripe.stop()
    runtime.reset()


def orders_of_one_id(a, b):
    """(A's order, B's order) with the same order_id, as two stages' first
    orders are. A MariaDB database kept for the run counts on from its last
    test, while B's is new: B numbers its orders from A's first, rather than
    making thousands of orders to catch up."""
    mine = a.create_order()
    b.number_orders_from(mine['order_id'])
    theirs = b.create_order()
    assert theirs['order_id'] == mine['order_id']
    return mine, theirs


def paid_at_stripe(localstripe, stage, order_id):
    """The stage's order paid by card at Stripe: the succeeded PaymentIntent."""
    return pay_with_card(localstripe.client(), stage.start_payment(order_id)['payment_intent_id'])


def test_one_stages_payment_never_pays_the_others_order_of_the_same_id(stages, localstripe, stdout):
    a, b = stages
    mine, theirs = orders_of_one_id(a, b)
    b.start_payment(theirs['order_id'])  # B's order has an intent of its own
    body = event_body('payment_intent.succeeded', paid_at_stripe(localstripe, a, mine['order_id']))

    assert (a.deliver(body).status_code, b.deliver(body).status_code) == (200, 200)

    assert a.order(mine['order_id'])['status'] == 'paid'
    assert (b.order(theirs['order_id'])['status'], b.order(theirs['order_id'])['version']) == (
        'pending',
        1,
    )
    assert len(stdout.metrics('ForeignPaymentEvents')) == 1
    assert any(
        line['level'] == 'ERROR' and "not this deployment's" in line['message']
        for line in stdout.logs()
    )


def test_a_paid_order_of_one_stage_is_not_refunded_by_the_other_where_it_was_cancelled(
    stages, localstripe
):
    a, b = stages
    mine, theirs = orders_of_one_id(a, b)
    b.start_payment(theirs['order_id'])
    b.cancel(theirs['order_id'])
    intent = paid_at_stripe(localstripe, a, mine['order_id'])

    assert b.deliver(event_body('payment_intent.succeeded', intent)).status_code == 200
    assert a.deliver(event_body('payment_intent.succeeded', intent)).status_code == 200

    assert b.refunds() == []
    assert b.order(theirs['order_id'])['payment']['amount_refunded'] == 0
    assert localstripe.client().v1.refunds.list(params={'payment_intent': intent['id']}).data == []
    assert a.order(mine['order_id'])['payment']['status'] == 'paid'


def test_a_made_up_live_intent_pays_nothing(stages, stdout):
    a, _ = stages
    order = a.create_order()
    a.start_payment(order['order_id'])
    forged = event_body(
        'payment_intent.succeeded',
        {
            'id': 'pi_FOREIGN0000000000000000',
            'object': 'payment_intent',
            'amount': 10997,
            'amount_received': 10997,
            'currency': 'usd',
            'status': 'succeeded',
            'metadata': {'order_id': str(order['order_id']), 'deployment': a.namespace},
        },
    ).replace(b'"livemode": false', b'"livemode": true')

    assert a.deliver(forged).status_code == 200

    assert (a.order(order['order_id'])['status'], a.order(order['order_id'])['version']) == (
        'pending',
        1,
    )
    assert len(stdout.metrics('ForeignPaymentEvents')) == 1


def test_an_intent_in_another_currency_naming_a_cancelled_order_does_nothing(
    stages, localstripe, tmp_path
):
    a, _ = stages
    order = a.create_order(user_email='ada@example.com')
    a.start_payment(order['order_id'])
    a.cancel(order['order_id'])
    # Made with the account's key by someone else, naming the order and the deployment.
    other = localstripe.client().v1.payment_intents.create(
        params={
            'amount': 5000,
            'currency': 'jpy',
            'payment_method_types': ['card'],
            'metadata': {'order_id': str(order['order_id']), 'deployment': a.namespace},
        }
    )
    intent = pay_with_card(localstripe.client(), other.id)

    assert a.deliver(event_body('payment_intent.succeeded', intent)).status_code == 200

    assert a.refunds() == []
    assert a.order(order['order_id'])['payment']['status'] == 'unpaid'
    assert localstripe.client().v1.refunds.list(params={'payment_intent': other.id}).data == []
    mails = (tmp_path / 'mail-a').glob('*.eml')
    assert not any('JPY' in mail.read_text() for mail in mails)


def test_a_made_up_refund_event_does_not_settle_a_pending_refund_which_the_relay_still_sends(
    stages, localstripe
):
    a, _ = stages
    order = a.create_order()
    intent = paid_at_stripe(localstripe, a, order['order_id'])
    assert a.deliver(event_body('payment_intent.succeeded', intent)).status_code == 200
    a.stripe.mode = 'down'
    created = json_of(a.send('POST', f'/orders/{order["order_id"]}/refunds', {'amount': 4}))
    assert created['status'] == 'pending'
    forged = {
        'id': 're_FORGED',
        'object': 'refund',
        'amount': 500000,
        'currency': 'jpy',
        'status': 'succeeded',
        'payment_intent': 'pi_SOMEONE_ELSES',
        'metadata': {'refund_id': str(created['refund_id']), 'deployment': a.namespace},
    }

    assert a.deliver(event_body('refund.updated', forged)).status_code == 200

    [row] = a.refunds()
    assert row.status == 'pending'
    assert a.order(order['order_id'])['payment']['amount_refunded'] == 0
    a.stripe.mode = 'ok'
    assert a.relay_refunds() == {'answered': 1, 'intents_cancelled': 0}
    assert a.order(order['order_id'])['payment']['amount_refunded'] == 4.0
    made = localstripe.client().v1.refunds.list(params={'payment_intent': intent['id']}).data
    assert [(r.amount, r.metadata['deployment']) for r in made] == [(400, a.namespace)]


def test_idempotency_keys_and_metadata_differ_between_stages(stages, localstripe):
    a, b = stages
    mine, theirs = orders_of_one_id(a, b)

    intents = [stage.start_payment(order['order_id']) for stage, order in ((a, mine), (b, theirs))]

    keys = [key for method, path, key in a.stripe.calls if path == '/v1/payment_intents']
    assert keys == [
        f'orders-dev-payment-{mine["order_id"]}',
        f'orders-prod-payment-{theirs["order_id"]}',
    ]
    assert intents[0]['payment_intent_id'] != intents[1]['payment_intent_id']
    deployments = [
        localstripe.client()
        .v1.payment_intents.retrieve(intent['payment_intent_id'])
        .metadata['deployment']
        for intent in intents
    ]
    assert deployments == ['orders-dev', 'orders-prod']
