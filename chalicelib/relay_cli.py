"""`make relay`: publish what the outbox still holds, once, and say how many."""
import sys
from datetime import timedelta

from chalicelib import runtime
from chalicelib.config import get_settings
from chalicelib.publisher import relay


def main():
    runtime.database()
    # By hand nothing is in flight in a request: publish every pending row.
    published = relay(runtime.publisher(), min_age=timedelta(0),
                      retention=get_settings().outbox_retention)
    print(f'published {published} events')
    return 0


if __name__ == '__main__':
    sys.exit(main())
