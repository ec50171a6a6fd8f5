"""SNS answered at botocore's HTTP layer: boto3 still validates, serialises,
signs and parses (its own cost, as in Lambda), but no request leaves the
process and moto's in-process SNS (which costs several times more than
botocore) is out of the picture."""


class BenchFailure(RuntimeError):
    """The benchmark measured something other than what it claims: stop."""


class _RawBody:
    def __init__(self, data):
        self._data = data

    def stream(self, **kwargs):
        yield self._data

    def read(self, *args):
        data, self._data = self._data, b''
        return data


class SnsStub:
    """A before-send handler on boto3's default session: while on, it
    answers SNS Publish without moto and without the network; anything else
    it refuses (never a real AWS call)."""
    BODY = (b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            b'<PublishResult><MessageId>00000000-0000-4000-8000-000000000000'
            b'</MessageId></PublishResult><ResponseMetadata><RequestId>'
            b'00000000-0000-4000-8000-000000000001</RequestId></ResponseMetadata>'
            b'</PublishResponse>')

    def __init__(self):
        self.on = False
        self.calls = 0

    def install(self):
        """Register on a fresh default session, before the service makes its
        client (and after moto's mock_aws().start(), which replaces it)."""
        import boto3
        from botocore.awsrequest import AWSResponse
        self._response = AWSResponse
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register('before-send', self.before_send)

    def before_send(self, request, **kwargs):
        if not self.on:
            return None
        body = request.body or b''
        body = body.encode() if isinstance(body, str) else bytes(body)
        if b'Action=Publish&' not in body + b'&':
            raise BenchFailure(f'SNS stub: unexpected AWS call {request.url} '
                               f'{body[:80]!r}')
        self.calls += 1
        return self._response(request.url, 200, {'Content-Type': 'text/xml'},
                           _RawBody(self.BODY))
