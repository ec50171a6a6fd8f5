"""AWS clients, created on first use and kept for the container's life: the
boto3 import and client creation dominate a Lambda cold start, so a request
that needs no AWS never pays for them (nor for tracing botocore's calls)."""
from chalicelib import tracing

_clients = {}


def client(service_name, region_name):
    key = (service_name, region_name)
    if key not in _clients:
        import boto3
        from botocore.config import Config
        tracing.patch_aws()
        _clients[key] = boto3.client(
            service_name, region_name=region_name,
            config=Config(connect_timeout=2, read_timeout=5,
                          retries={'max_attempts': 3, 'mode': 'standard'}))
    return _clients[key]


def forget_clients():
    """Drop cached clients (tests start a fresh moto for each case)."""
    _clients.clear()
