"""`python -m chalicelib.certs FILE`, which `make package` runs on the RDS
bundle it fetched before putting it in the deployment package."""
import subprocess

from chalicelib.certs import main
from tests.integration.private_mariadb import make_ca


def test_a_pem_bundle_of_ca_certificates_is_accepted(tmp_path, capsys):
    subprocess.run(['openssl', 'version'], check=True, capture_output=True)
    ca = make_ca(tmp_path, 'ca')
    bundle = tmp_path / 'bundle.pem'
    bundle.write_text(ca.read_text() + make_ca(tmp_path, 'other').read_text())

    assert main([str(bundle)]) == 0
    assert '2 CA certificates' in capsys.readouterr().out


def test_an_error_page_instead_of_a_bundle_is_refused(tmp_path):
    page = tmp_path / 'bundle.pem'
    page.write_text('<html>Access denied</html>')

    assert main([str(page)]) == 1


def test_a_missing_file_is_refused(tmp_path):
    assert main([str(tmp_path / 'nothing.pem')]) == 1
