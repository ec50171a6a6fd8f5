"""`make recount`: rebuild the service's derived data (the order counts
behind list totals) from the tables, on the configured database
(DATABASE_URL, or DB_HOST and the rest). Run it after loading orders behind
the service's back, while nothing else writes orders."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.preload import find_recount  # noqa: E402


def main():
    from chalicelib import runtime
    recount = find_recount()
    if recount is None:
        print('chalicelib keeps no derived data (no recount()): nothing to rebuild')
        return 0
    runtime.database()
    print(f'counts rebuilt: {recount()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
