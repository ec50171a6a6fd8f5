"""CloudWatch Embedded Metric Format: one JSON line on stdout per metric,
which CloudWatch Logs turns into metrics with no API call and no extra
dependency (Powertools Metrics would add a package for three counters)."""
import json
import sys
import time

NAMESPACE = 'OrdersService'


def emit(name, value, unit='Count'):
    line = {
        '_aws': {
            'Timestamp': int(time.time() * 1000),
            'CloudWatchMetrics': [{
                'Namespace': NAMESPACE,
                'Dimensions': [[]],
                'Metrics': [{'Name': name, 'Unit': unit}],
            }],
        },
        name: value,
    }
    sys.stdout.write(json.dumps(line) + '\n')
    sys.stdout.flush()
