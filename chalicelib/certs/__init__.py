"""Certificate bundles shipped in the deployment package: the RDS bundle,
global-bundle.pem, that the dev and prod stages name in DB_SSL_CA (`make
package` fetches it from AWS when it is missing).

    python -m chalicelib.certs FILE    checks FILE is a bundle TLS can use
"""
from __future__ import annotations

import ssl
import sys


def certificate_count(path: str) -> int:
    """How many CA certificates the PEM file holds; ssl.SSLError or OSError
    when it is not a bundle the database connection could load."""
    return len(ssl.create_default_context(cafile=path).get_ca_certs())


def main(argv: list[str]) -> int:
    try:
        count = certificate_count(argv[0])
    except (OSError, ssl.SSLError) as exc:
        print(f'{argv[0]}: not a CA bundle ({exc})', file=sys.stderr)
        return 1
    if not count:
        print(f'{argv[0]}: holds no CA certificate', file=sys.stderr)
        return 1
    print(f'{argv[0]}: {count} CA certificates')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
