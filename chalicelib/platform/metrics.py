"""CloudWatch metrics as Embedded Metric Format lines on stdout (CloudWatch
Logs turns them into metrics, no API call): namespace OrdersService, one
dimension, `stage` (ENVIRONMENT; unset, `local` outside Lambda), so the dev
and prod stages of one account, and a developer's local runs, never add up.

Each metric is written when the thing it counts happens, not gathered until
the invocation ends: a relay that times out, or an operator command run
outside Lambda, still reports what it counted.

The line is the one Powertools' single_metric writes, built here: Powertools
took about 150 µs a metric (its validation and its objects), which every
write paid twice, and its metrics package a share of the cold start."""

import json
import time

from chalicelib.platform.config import get_settings

NAMESPACE = 'OrdersService'
# The units CloudWatch knows (MetricDatum.Unit); any other is refused.
UNITS = frozenset(
    {
        'Seconds',
        'Microseconds',
        'Milliseconds',
        'Bytes',
        'Kilobytes',
        'Megabytes',
        'Gigabytes',
        'Terabytes',
        'Bits',
        'Kilobits',
        'Megabits',
        'Gigabits',
        'Terabits',
        'Percent',
        'Count',
        'Bytes/Second',
        'Kilobytes/Second',
        'Megabytes/Second',
        'Gigabytes/Second',
        'Terabytes/Second',
        'Bits/Second',
        'Kilobits/Second',
        'Megabits/Second',
        'Gigabits/Second',
        'Terabits/Second',
        'Count/Second',
        'None',
    }
)


def emit(name: str, value: float, unit: str = 'Count') -> None:
    if unit not in UNITS:
        raise ValueError(f'{unit!r} is not a CloudWatch unit')
    stage = get_settings().metrics_stage
    line = {
        '_aws': {
            'Timestamp': int(time.time() * 1000),
            'CloudWatchMetrics': [
                {
                    'Namespace': NAMESPACE,
                    'Dimensions': [['stage']],
                    'Metrics': [{'Name': name, 'Unit': unit}],
                }
            ],
        },
        'stage': stage,
        name: [float(value)],
    }
    print(json.dumps(line, separators=(',', ':')))
