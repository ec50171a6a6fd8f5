"""CloudWatch metrics as Embedded Metric Format lines on stdout (CloudWatch
Logs turns them into metrics, no API call), written by Powertools Metrics:
namespace OrdersService, one dimension, `stage` (ENVIRONMENT), so the dev
and prod stages of one account never add up.

Each metric is written when the thing it counts happens (single_metric),
not gathered until the invocation ends: a relay that times out, or an
operator command run outside Lambda, still reports what it counted."""

from typing import cast

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from chalicelib.platform.config import get_settings

NAMESPACE = 'OrdersService'


def emit(name: str, value: float, unit: str = 'Count') -> None:
    # Powertools takes a unit's name too, and refuses one CloudWatch does not know.
    with single_metric(
        name=name,
        unit=cast(MetricUnit, unit),
        value=value,
        namespace=NAMESPACE,
        default_dimensions={'stage': get_settings().environment},
    ):
        pass
