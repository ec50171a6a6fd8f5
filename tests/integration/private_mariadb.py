"""A MariaDB server of the tests' own, speaking TLS with a certificate made
here: a CA and a server certificate for 127.0.0.1 (openssl), a data
directory (mariadb-install-db) and a mariadbd on a free port, all under a
temporary directory. Users, limits and passwords can be changed on it at
will, which the shared server on 3306 must not suffer.

Administration goes through its Unix socket as root; the service under test
reaches it over TCP as the users a test creates."""

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pymysql

BINARIES = ('mariadbd', 'mariadb-install-db', 'openssl')
START_TIMEOUT = 60


def missing_binaries():
    return [name for name in BINARIES if shutil.which(name) is None]


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _openssl(*args, cwd):
    subprocess.run(['openssl', *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory, name):
    """A self-signed CA: <name>.pem and <name>.key in directory."""
    _openssl(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        f'/CN=Orders test {name}',
        '-keyout',
        f'{name}.key',
        '-out',
        f'{name}.pem',
        cwd=directory,
    )
    return Path(directory) / f'{name}.pem'


def make_server_certificate(directory, ca_name, name, alt_names):
    """<name>.pem signed by the CA <ca_name>, valid for alt_names only."""
    _openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=orders-test-server',
        '-keyout',
        f'{name}.key',
        '-out',
        f'{name}.csr',
        cwd=directory,
    )
    Path(directory, f'{name}.ext').write_text(f'subjectAltName={alt_names}\n')
    _openssl(
        'x509',
        '-req',
        '-in',
        f'{name}.csr',
        '-CA',
        f'{ca_name}.pem',
        '-CAkey',
        f'{ca_name}.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        f'{name}.ext',
        '-out',
        f'{name}.pem',
        cwd=directory,
    )
    return Path(directory) / f'{name}.pem', Path(directory) / f'{name}.key'


class PrivateMariaDB:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.socket = str(self.directory / 'mariadb.sock')
        self.port = _free_port()
        self.ca = make_ca(self.directory, 'ca')
        # A CA that signed nothing this server holds: verification must fail.
        self.other_ca = make_ca(self.directory, 'other-ca')
        # Valid for 127.0.0.1 and nothing else: 'localhost' must fail the
        # name check even though the chain is good.
        cert, key = make_server_certificate(self.directory, 'ca', 'server', 'IP:127.0.0.1')
        data = self.directory / 'data'
        subprocess.run(
            [
                'mariadb-install-db',
                '--no-defaults',
                f'--datadir={data}',
                '--auth-root-authentication-method=normal',
                '--skip-test-db',
                '--user=root',
            ],
            check=True,
            capture_output=True,
        )
        self.log_path = self.directory / 'error.log'
        self.process = subprocess.Popen(
            [
                'mariadbd',
                '--no-defaults',
                '--user=root',
                f'--datadir={data}',
                f'--socket={self.socket}',
                f'--port={self.port}',
                '--bind-address=127.0.0.1',
                f'--pid-file={self.directory / "mariadb.pid"}',
                f'--log-error={self.log_path}',
                f'--ssl-ca={self.ca}',
                f'--ssl-cert={cert}',
                f'--ssl-key={key}',
                '--skip-name-resolve',
                '--innodb-buffer-pool-size=16M',
                '--innodb-log-file-size=8M',
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_ready()

    def _wait_until_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.admin().close()
                return
            except pymysql.err.MySQLError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        'the private MariaDB did not start:\n' + self.log_path.read_text()[-2000:]
                    ) from None
                time.sleep(0.1)

    def admin(self, database=None):
        return pymysql.connect(
            unix_socket=self.socket, user='root', database=database, autocommit=True
        )

    def execute(self, *statements, database=None):
        conn = self.admin(database)
        try:
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                return cursor.fetchall()
        finally:
            conn.close()

    def create_database(self):
        name = f'orders_{uuid.uuid4().hex[:10]}'
        self.execute(f'CREATE DATABASE `{name}`')
        return name

    def create_user(self, database, password, require_ssl=False, max_user_connections=None):
        """A user with every right on `database`; its name."""
        name = f'u_{uuid.uuid4().hex[:10]}'
        options = ' REQUIRE SSL' if require_ssl else ''
        if max_user_connections is not None:
            options += f' WITH MAX_USER_CONNECTIONS {max_user_connections}'
        conn = self.admin()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE USER '{name}'@'%%' IDENTIFIED BY %s{options}", (password,))
                cursor.execute(f"GRANT ALL ON `{database}`.* TO '{name}'@'%'")
        finally:
            conn.close()
        return name

    def set_password(self, user, password):
        conn = self.admin()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"ALTER USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
        finally:
            conn.close()

    def connection_ids(self, user):
        return [
            row[0]
            for row in self.execute(
                f"SELECT id FROM information_schema.processlist WHERE user = '{user}'"
            )
        ]

    def kill_connections(self, user):
        """KILL every connection of `user` (a restart or failover, as the
        service sees it); how many there were."""
        ids = self.connection_ids(user)
        for connection_id in ids:
            self.execute(f'KILL {connection_id}')
        return len(ids)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
