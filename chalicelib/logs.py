"""One JSON object per log line, with the request, message and order ids of
the invocation at hand."""
import contextvars
import json
import logging
import sys
from datetime import datetime, timezone

log = logging.getLogger('orders')

_context = contextvars.ContextVar('log_context', default={})
_CONTEXT_KEYS = ('request_id', 'message_id', 'order_id', 'event_id')


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            'timestamp': datetime.fromtimestamp(record.created, timezone.utc)
            .strftime('%Y-%m-%dT%H:%M:%S.%fZ'),
            'level': record.levelname,
            'message': record.getMessage(),
        }
        line.update(_context.get())
        for key in _CONTEXT_KEYS:
            if key in record.__dict__:
                line[key] = record.__dict__[key]
        if record.exc_info:
            line['exception'] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level='INFO', stream=None):
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level)
    # Lambda's runtime puts a handler on the root logger: don't print twice.
    log.propagate = False


def set_context(**values):
    """Replace the per-invocation context (request_id or message_id, ...)."""
    _context.set({key: value for key, value in values.items() if value is not None})


def add_context(**values):
    _context.set({**_context.get(),
                  **{k: v for k, v in values.items() if v is not None}})
