"""How fast the outbox relay drains a backlog: N pending events published to
SNS (moto, in process, no subscriber) by one relay run.

    .venv/bin/python bench/relay_rate.py --backend mariadb --events 10000
"""

import argparse
import json
import math
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MARIADB_URL = 'mysql://root@127.0.0.1:3306/orders_relay_bench'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', choices=['sqlite', 'mariadb'], default='mariadb')
    parser.add_argument('--events', type=int, default=10000)
    args = parser.parse_args()
    os.environ.update(
        AWS_DEFAULT_REGION='us-east-1',
        AWS_ACCESS_KEY_ID='bench',
        AWS_SECRET_ACCESS_KEY='bench',
        LOG_LEVEL='WARNING',
        AUTO_MIGRATE='true',
    )
    if args.backend == 'mariadb':
        import pymysql

        conn = pymysql.connect(host='127.0.0.1', user='root', autocommit=True)
        conn.cursor().execute('DROP DATABASE IF EXISTS orders_relay_bench')
        conn.cursor().execute('CREATE DATABASE orders_relay_bench')
        os.environ['DATABASE_URL'] = MARIADB_URL
        os.environ['DB_SSL_CA'] = 'off'  # the bench's MariaDB speaks no TLS
    else:
        import tempfile

        os.environ['DATABASE_URL'] = f'sqlite:///{tempfile.mkdtemp()}/relay.sqlite3'

    import boto3
    from moto import mock_aws

    with mock_aws():
        os.environ['SNS_TOPIC_ARN'] = boto3.client('sns').create_topic(Name='bench')['TopicArn']
        from chalicelib.events.relay import relay
        from chalicelib.platform import metrics
        from chalicelib.storage.connection import database
        from chalicelib.storage.models import Outbox
        from chalicelib.wiring import runtime

        metrics.emit = lambda *a, **k: None  # keep the output to the figure
        runtime.database()
        old = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
        rows = [
            {
                'event_id': str(uuid.uuid4()),
                'event_type': 'order_created',
                'order_id': n,
                'subject': 'Order Created',
                'created_at': old,
                'body': json.dumps({'event_type': 'order_created', 'order_id': n}),
            }
            for n in range(1, args.events + 1)
        ]
        with database.atomic():
            for start in range(0, len(rows), 1000):
                Outbox.insert_many(rows[start : start + 1000]).execute()
        started = time.perf_counter()
        published = relay(runtime.publisher(), time_left=lambda: math.inf)
        seconds = time.perf_counter() - started
        pending = Outbox.select().where(Outbox.published_at.is_null()).count()
    print(
        f'{args.backend}: published {published} of {args.events} in {seconds:.1f} s = '
        f'{published / seconds:,.0f} events/s; still pending: {pending}'
    )
    return 0 if published == args.events and pending == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
