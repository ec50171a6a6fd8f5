"""Where a request's time goes: each millisecond of the service's side named.

While `Breakdown.installed()` holds, the functions that do each kind of work
are wrapped by a timer that charges the time spent inside them to their
category (exclusively: time in a nested category is that category's, unless
the outer one is `whole`, which keeps everything it calls). What no wrapped
function claims is `routing`: Chalice's routing, the middleware (the
per-request lock, the log context), the view functions of app.py. The
wrappers cost about a microsecond each, so latency.py times the service
without them and runs a separate pass with them for the breakdown.

Categories, in the report's order:
    routing     Chalice, middleware, the views of app.py (the remainder)
    auth        identity.authenticate: the bearer token, the JWKS
    validation  marshmallow schemas, JSON bodies, path ids, If-Match
    domain      the services' own code: rules, access, events' bodies
    binding     statements.py: values bound to SQL, rows turned into models
    SQL         the driver executing statements (and BEGIN), rows fetched
    commit      COMMIT (and ROLLBACK)
    publish     SNS Publish through boto3 (or the notifier in process), after the commit
    mark        marking the event published: sending its statement, and reading
                its answer at the start of the next request
    answer      the answer's dicts, its JSON, the ETag
    logging     Powertools Logger (keys, lines) and EMF metric lines
"""

from __future__ import annotations

import contextlib
import functools
import sys
from time import perf_counter_ns

CATEGORIES = (
    'routing',
    'auth',
    'validation',
    'domain',
    'binding',
    'SQL',
    'commit',
    'publish',
    'mark',
    'answer',
    'logging',
)
WHOLE = frozenset({'auth', 'validation', 'mark'})


class Breakdown:
    def __init__(self):
        self.requests = []  # per request: {category: ns}
        self._current = None
        self._mark = 0
        self._spent = None
        self._undo = []

    # -- timing ------------------------------------------------------------
    def _switch(self, category):
        now = perf_counter_ns()
        if self._current is not None:
            self._spent[self._current] += now - self._mark
        self._mark = now
        previous, self._current = self._current, category
        return previous

    def request(self, call):
        """call() timed as one request, its time split by category."""
        self._spent = dict.fromkeys(CATEGORIES, 0)
        self._switch('routing')
        try:
            return call()
        finally:
            self._switch(None)
            self.requests.append(self._spent)

    def _timed(self, category, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if self._current is None or self._current in WHOLE:
                return function(*args, **kwargs)
            previous = self._switch(category)
            try:
                return function(*args, **kwargs)
            finally:
                self._switch(previous)

        return timed

    # -- wrapping ------------------------------------------------------------
    def _replace(self, owner, name, category):
        original = getattr(owner, name)
        # getattr on a class gives the plain function; keep the descriptor.
        raw = owner.__dict__[name] if isinstance(owner, type) else original
        timed = self._timed(category, original)
        setattr(owner, name, timed)
        self._undo.append((owner, name, raw))
        return original, timed

    def wrap_function(self, module, name, category):
        """A module's function, and every module's name bound to it (`from x import f`)."""
        original, timed = self._replace(module, name, category)
        for other in list(sys.modules.values()):
            if other is module or not getattr(other, '__name__', '').startswith(
                ('chalicelib', 'app')
            ):
                continue
            for attribute, value in list(vars(other).items()):
                if value is original:
                    setattr(other, attribute, timed)
                    self._undo.append((other, attribute, original))

    def wrap_methods(self, cls, names, category):
        for name in names:
            self._replace(cls, name, category)

    def wrap_public_methods(self, cls, category):
        self.wrap_methods(
            cls,
            [name for name, value in vars(cls).items() if callable(value) and name[0] != '_'],
            category,
        )

    @contextlib.contextmanager
    def installed(self):
        self._install()
        try:
            yield self
        finally:
            for owner, name, original in reversed(self._undo):
                setattr(owner, name, original)
            self._undo.clear()

    def _install(self):
        import botocore.client
        import chalice.app
        import peewee
        from aws_lambda_powertools import Logger

        import chalicelib.api.http as http
        import chalicelib.catalog.products as products
        import chalicelib.core.inputs as inputs
        import chalicelib.events.outbox as outbox
        import chalicelib.events.publishers as publishers
        import chalicelib.identity as identity
        import chalicelib.orders.answers as answers
        import chalicelib.orders.schemas as schemas
        import chalicelib.orders.service as orders
        import chalicelib.payments.service as payments
        import chalicelib.platform.metrics as metrics
        import chalicelib.storage.connection as connection
        import chalicelib.storage.statements as statements
        from chalicelib.platform.logs import log

        self.wrap_function(identity, 'authenticate', 'auth')
        for module in (schemas, inputs):
            for name, value in list(vars(module).items()):
                if (
                    name.startswith(('load_', 'parse_'))
                    and callable(value)
                    and getattr(value, '__module__', None) == module.__name__
                ):
                    self.wrap_function(module, name, 'validation')
        for name in ('path_id', 'expected_version'):
            self.wrap_function(http, name, 'validation')
        for cls in (orders.OrderService, payments.PaymentService, products.CatalogService):
            self.wrap_public_methods(cls, 'domain')
        for name in ('run', 'fetch', 'scalar', 'insert', 'insert_instance'):
            if hasattr(statements, name):
                self.wrap_function(statements, name, 'binding')
        self.wrap_methods(peewee.Database, ['execute_sql', 'begin'], 'SQL')
        self.wrap_methods(peewee.MySQLDatabase, ['begin'], 'SQL')
        self.wrap_methods(peewee.SqliteDatabase, ['begin'], 'SQL')
        self.wrap_methods(peewee.Database, ['commit', 'rollback'], 'commit')
        # The services hold the publisher's bound method: time the call it makes.
        self.wrap_methods(botocore.client.BaseClient, ['_make_api_call'], 'publish')
        self.wrap_methods(publishers.LocalPublisher, ['publish_batch'], 'publish')
        for name in ('mark_published_quietly', 'hand_to_relay_quietly'):
            self.wrap_function(outbox, name, 'mark')
        # The mark is sent without waiting; the next request reads its answer.
        self.wrap_function(connection, '_read_unread_answer', 'mark')
        for name in ('dump_order', 'dump_item', 'dump_history_entry'):
            self.wrap_function(answers, name, 'answer')
        self.wrap_function(http, 'versioned_response', 'answer')
        self.wrap_methods(chalice.app.Response, ['to_dict'], 'answer')
        self.wrap_methods(
            Logger,
            [
                'info',
                'warning',
                'error',
                'exception',
                'debug',
                'append_keys',
                'structure_logs',
                'clear_state',
            ],
            'logging',
        )
        del log  # the instance's calls go through the class's methods
        self.wrap_function(metrics, 'emit', 'logging')

    # -- figures -------------------------------------------------------------
    def summary(self, floor_ns):
        """{category: mean ms} over the middle half of the requests (by their
        total: the second and third quarters), so that the requests the
        machine stalled do not decide the figures and the categories still
        add up; 'total' is their sum. 'floor': the same mean of the floor's
        calls made alternately with these requests."""
        ranked = sorted(self.requests, key=lambda spent: sum(spent.values()))
        result = {
            category: middle_mean([spent[category] for spent in ranked]) / 1e6
            for category in CATEGORIES
        }
        result['total'] = sum(result.values())
        result['floor'] = middle_mean(sorted(floor_ns)) / 1e6
        return result


def middle_mean(ranked):
    """The mean of the second and third quarters of values ranked by their total."""
    quarter = len(ranked) // 4
    middle = ranked[quarter : len(ranked) - quarter] or ranked
    return sum(middle) / len(middle)
