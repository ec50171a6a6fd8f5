"""How Lambda calls the service, for every measurement here: API Gateway REST
(v1 proxy) events with a Lambda context, and SNS answered at botocore's HTTP
layer when moto's in-process SNS is not wanted."""

import io
import json
import os
import time
import uuid

REGION = 'us-east-1'
HOST = f'bench0api1.execute-api.{REGION}.amazonaws.com'
HEADERS = {
    'Accept': 'application/json',
    'Accept-Encoding': 'gzip, deflate',
    'Host': HOST,
    'User-Agent': 'orders-bench/1.0',
    'X-Amzn-Trace-Id': 'Root=1-00000000-000000000000000000000000',
    'X-Forwarded-For': '198.51.100.7',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
}


class BenchFailure(RuntimeError):
    """The run measured something other than what it claims: stop."""


class LambdaContext:
    function_name = 'orders-dev'
    invoked_function_arn = f'arn:aws:lambda:{REGION}:123456789012:function:orders-dev'
    memory_limit_in_mb = 512

    def __init__(self, request_id):
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invocation(method, resource, query=None, body=None, **path_parameters):
    """(event, context) for one request; `resource` is the route template
    (/orders/{order_id}), filled in from `path_parameters`."""
    request_id = str(uuid.uuid4())
    path = resource.format(**path_parameters)
    headers = dict(HEADERS, Authorization=f'Bearer {os.environ["BENCH_TOKEN"]}')
    if body is not None:
        headers['Content-Type'] = 'application/json'
        body = json.dumps(body)
    query = {name: str(value) for name, value in (query or {}).items()} or None
    return {
        'resource': resource,
        'path': path,
        'httpMethod': method,
        'headers': headers,
        'multiValueHeaders': {k: [v] for k, v in headers.items()},
        'queryStringParameters': query,
        'multiValueQueryStringParameters': query and {k: [v] for k, v in query.items()},
        'pathParameters': {k: str(v) for k, v in path_parameters.items()} or None,
        'stageVariables': None,
        'requestContext': {
            'resourcePath': resource,
            'httpMethod': method,
            'path': f'/api{path}',
            'stage': 'api',
            'requestId': request_id,
            'apiId': 'bench0api1',
            'accountId': '123456789012',
            'protocol': 'HTTP/1.1',
            'domainName': HOST,
            'requestTimeEpoch': int(time.time() * 1000),
            'identity': {'sourceIp': '198.51.100.7', 'userAgent': 'orders-bench/1.0'},
        },
        'body': body,
        'isBase64Encoded': False,
    }, LambdaContext(request_id)


class SnsStub:
    """While `on`, answers SNS Publish at botocore's HTTP layer: boto3 still
    validates, signs and parses (its cost, as in Lambda), moto's is gone.
    Anything else it refuses: never a real AWS call."""

    BODY = (
        b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
        b'<MessageId>00000000-0000-4000-8000-000000000000</MessageId></PublishResult>'
        b'<ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></PublishResponse>'
    )

    def __init__(self, on=False):
        self.on = on
        self.calls = 0
        # On a fresh default session, before the service makes its client
        # (and after moto's start, which replaces the session).
        import boto3

        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register('before-send', self._answer)

    def _answer(self, request, **kwargs):
        if not self.on:
            return None
        from botocore.awsrequest import AWSResponse
        from urllib3.response import HTTPResponse

        body = request.body or b''
        body = body.encode() if isinstance(body, str) else bytes(body)
        if not body.startswith(b'Action=Publish&'):
            raise BenchFailure(f'SNS stub: unexpected AWS call {request.url} {body[:80]!r}')
        self.calls += 1
        raw = HTTPResponse(body=io.BytesIO(self.BODY), status=200, preload_content=False)
        return AWSResponse(request.url, 200, {'Content-Type': 'text/xml'}, raw)
