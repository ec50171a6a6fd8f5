"""AWS clients, created on first use and kept for the container's life: the
boto3 import and client creation dominate a Lambda cold start, so a request
that needs no AWS never pays for them (nor for tracing botocore's calls)."""

from typing import Any

from chalicelib.platform import tracing

# A request calls AWS only to publish the event it just committed, and an
# order must never wait on a slow SNS: one attempt, sub-second timeouts, and
# whatever that leaves the relay publishes. Work off the request path (the
# relay, the notifier, reading a secret) can afford to wait and retry.
REQUEST = 'request'
BACKGROUND = 'background'
_CONFIGS: dict[str, dict[str, Any]] = {
    REQUEST: {
        'connect_timeout': 0.5,
        'read_timeout': 0.8,
        'retries': {'total_max_attempts': 1, 'mode': 'standard'},
    },
    BACKGROUND: {
        'connect_timeout': 2,
        'read_timeout': 5,
        'retries': {'total_max_attempts': 3, 'mode': 'standard'},
    },
}

# boto3 clients: no stubs are installed, so they are Any.
_clients: dict[tuple[str, str, str], Any] = {}


def client(service_name: str, region_name: str, purpose: str = BACKGROUND) -> Any:
    key = (service_name, region_name, purpose)
    if key not in _clients:
        import boto3
        from botocore.config import Config

        tracing.patch_aws()
        _clients[key] = boto3.client(
            service_name, region_name=region_name, config=Config(**_CONFIGS[purpose])
        )
    return _clients[key]


def forget_clients() -> None:
    """Drop cached clients (tests start a fresh moto for each case)."""
    _clients.clear()
