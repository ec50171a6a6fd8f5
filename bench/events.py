"""API Gateway REST (v1 proxy) events and a Lambda context, shaped as Lambda
hands them to the handler, so the benchmark calls `app.app(event, context)`
exactly as the Lambda runtime does."""
import json
import time
import uuid
from datetime import datetime, timezone

API_ID = 'bench0api1'
STAGE = 'api'
ACCOUNT_ID = '123456789012'
REGION = 'us-east-1'
HOST = f'{API_ID}.execute-api.{REGION}.amazonaws.com'

_BASE_HEADERS = {
    'Accept': 'application/json',
    'Accept-Encoding': 'gzip, deflate',
    'Host': HOST,
    'User-Agent': 'orders-bench/1.0',
    'X-Amzn-Trace-Id': 'Root=1-00000000-000000000000000000000000',
    'X-Forwarded-For': '198.51.100.7',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
}


class LambdaContext:
    """What the Lambda runtime passes as `context` (the attributes the Python
    runtime documents)."""
    function_name = 'orders-dev'
    function_version = '$LATEST'
    invoked_function_arn = f'arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:orders-dev'
    memory_limit_in_mb = 512
    log_group_name = '/aws/lambda/orders-dev'
    log_stream_name = '2026/11/25/[$LATEST]00000000000000000000000000000000'
    identity = None
    client_context = None

    def __init__(self, aws_request_id=None, timeout_seconds=30):
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def rest_event(method, resource, path=None, path_parameters=None, query=None,
               body=None, headers=None, request_id=None):
    """One API Gateway REST proxy event. `resource` is the route template
    (/orders/{order_id}), `path` the concrete path, `body` a dict (sent as
    JSON) or a string."""
    path = path or resource
    request_id = request_id or str(uuid.uuid4())
    all_headers = dict(_BASE_HEADERS)
    if body is not None:
        all_headers['Content-Type'] = 'application/json'
        if not isinstance(body, str):
            body = json.dumps(body)
    all_headers.update(headers or {})
    now = datetime.now(timezone.utc)
    query = {name: str(value) for name, value in (query or {}).items()}
    return {
        'resource': resource,
        'path': path,
        'httpMethod': method,
        'headers': all_headers,
        'multiValueHeaders': {name: [value] for name, value in all_headers.items()},
        'queryStringParameters': query or None,
        'multiValueQueryStringParameters':
            {name: [value] for name, value in query.items()} or None,
        'pathParameters': path_parameters or None,
        'stageVariables': None,
        'requestContext': {
            'resourceId': 'abc123',
            'resourcePath': resource,
            'httpMethod': method,
            'extendedRequestId': request_id[:16],
            'requestTime': now.strftime('%d/%b/%Y:%H:%M:%S +0000'),
            'path': f'/{STAGE}{path}',
            'accountId': ACCOUNT_ID,
            'protocol': 'HTTP/1.1',
            'stage': STAGE,
            'domainPrefix': API_ID,
            'requestTimeEpoch': int(now.timestamp() * 1000),
            'requestId': request_id,
            'identity': {'sourceIp': '198.51.100.7', 'userAgent': 'orders-bench/1.0',
                         'accountId': None, 'caller': None, 'user': None,
                         'userArn': None, 'cognitoIdentityId': None,
                         'cognitoIdentityPoolId': None, 'accessKey': None},
            'domainName': HOST,
            'apiId': API_ID,
        },
        'body': body,
        'isBase64Encoded': False,
    }


def invocation(method, resource, path=None, **kwargs):
    """(event, context) for one invocation, with one request id for both."""
    request_id = str(uuid.uuid4())
    return (rest_event(method, resource, path, request_id=request_id, **kwargs),
            LambdaContext(request_id))
