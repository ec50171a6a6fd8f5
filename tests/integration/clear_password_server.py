"""Just enough of a MySQL server to see what a client sends when asked for
mysql_clear_password, the way RDS asks a user IDENTIFIED WITH
AWSAuthenticationPlugin: greet, take the client's TLS upgrade (with a
certificate the test made), switch authentication to mysql_clear_password,
record what comes back and whether it came inside TLS, then answer OK to
everything until the client quits. One connection at a time, in a thread."""

import socket
import ssl
import struct
import threading

PROTOCOL_41 = 0x200
SSL = 0x800
SECURE_CONNECTION = 0x8000
PLUGIN_AUTH = 0x80000
CAPABILITIES = 0x1 | 0x8 | PROTOCOL_41 | SSL | 0x2000 | SECURE_CONNECTION | PLUGIN_AUTH
SERVER_STATUS_AUTOCOMMIT = 0x2
OK = b'\x00\x00\x00' + struct.pack('<HH', SERVER_STATUS_AUTOCOMMIT, 0)


class ClearPasswordServer:
    def __init__(self, cert, key):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(str(cert), str(key))
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.logins = []  # (password sent, TLS version or None)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            try:
                self._session(conn)
            except (OSError, ssl.SSLError, ConnectionError):
                pass
            finally:
                conn.close()

    def _session(self, conn):
        scramble = b'abcdefgh' + b'ijklmnopqrst'
        greeting = (
            b'\x0a'
            + b'8.0.0-fake\x00'
            + struct.pack('<I', 7)
            + scramble[:8]
            + b'\x00'
            + struct.pack('<H', CAPABILITIES & 0xFFFF)
            + b'\x21'
            + struct.pack('<H', SERVER_STATUS_AUTOCOMMIT)
            + struct.pack('<H', CAPABILITIES >> 16)
            + bytes([21])
            + b'\x00' * 10
            + scramble[8:]
            + b'\x00'
            + b'mysql_native_password\x00'
        )
        _write(conn, 0, greeting)
        sequence, packet = _read(conn)
        flags = struct.unpack('<I', packet[:4])[0]
        if flags & SSL and len(packet) == 32:
            conn = self.context.wrap_socket(conn, server_side=True)
            sequence, packet = _read(conn)
        _write(conn, sequence + 1, b'\xfe' + b'mysql_clear_password\x00')
        sequence, answer = _read(conn)
        tls = conn.version() if isinstance(conn, ssl.SSLSocket) else None
        self.logins.append((answer.rstrip(b'\x00').decode(), tls))
        _write(conn, sequence + 1, OK)
        while True:
            _, command = _read(conn)
            if not command or command[0] == 0x01:  # COM_QUIT
                return
            _write(conn, 1, OK)

    def stop(self):
        self.listener.close()


def _read(conn):
    header = _exactly(conn, 4)
    length = header[0] | header[1] << 8 | header[2] << 16
    return header[3], _exactly(conn, length)


def _exactly(conn, n):
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError('client went away')
        data += chunk
    return data


def _write(conn, sequence, payload):
    conn.sendall(struct.pack('<I', len(payload))[:3] + bytes([sequence & 0xFF]) + payload)
