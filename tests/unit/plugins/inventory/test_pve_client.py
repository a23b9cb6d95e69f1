# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory's PVE client over real TLS to a tiny server: requests it sends, answers it reads,
and a kept-alive connection the server dropped meanwhile."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_pve_client import PveClient, PveHttpError


def _certificate(tmp_path, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, pem_key = tmp_path / (name + '.crt'), tmp_path / (name + '.key')
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return str(crt), str(pem_key)


class OneAnswerServer:
    """Answers one request per connection with the next of ``answers`` (status, body), then closes the
    connection without saying so, as a server whose keep-alive timeout ran out between two requests."""

    def __init__(self, tmp_path, answers, name='pve'):
        self.ca_file, key = _certificate(tmp_path, name)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(self.ca_file, key)
        self.answers = list(answers)
        self.requests = []
        self.connections = 0
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.answers:
            raw, _peer = self.listener.accept()
            self.connections += 1
            try:
                conn = self.context.wrap_socket(raw, server_side=True)
            except ssl.SSLError:  # the client refused our certificate
                raw.close()
                continue
            with conn:
                head = b''
                while b'\r\n\r\n' not in head:
                    head += conn.recv(4096)
                lines = head.decode('latin-1').split('\r\n')
                self.requests.append((lines[0], dict(line.split(': ', 1) for line in lines[1:] if ': ' in line)))
                status, body = self.answers.pop(0)
                data = json.dumps(body).encode() if not isinstance(body, bytes) else body
                conn.sendall(b'HTTP/1.1 %d Reason %d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s'
                             % (status, status, len(data), data))

    def settings(self, **changes):
        return dict(dict(host='127.0.0.1', port=self.port, path_prefix=None, user='auditor@pve', token_name='inventory',
                         token_secret='s3cret', verify=self.ca_file), **changes)


def test_requests_carry_the_token_and_the_query_and_survive_a_dropped_connection(tmp_path):
    server = OneAnswerServer(tmp_path, [(200, {'data': [{'vmid': 100}]}), (200, {'data': {'ipconfig0': 'ip=dhcp'}})])
    client = PveClient(server.settings(), timeout=5)
    assert client.get('/cluster/resources', type='vm') == [{'vmid': 100}]
    # The server closed the first connection after answering: the second GET goes out on a new one.
    assert client.get('/nodes/pve1/qemu/100/config') == {'ipconfig0': 'ip=dhcp'}
    client.close_all()
    assert server.connections == 2
    assert [line for line, _headers in server.requests] == [
        'GET /api2/json/cluster/resources?type=vm HTTP/1.1', 'GET /api2/json/nodes/pve1/qemu/100/config HTTP/1.1']
    assert server.requests[0][1]['Authorization'] == 'PVEAPIToken=auditor@pve!inventory=s3cret'


def test_errors_and_answers_that_are_not_the_api(tmp_path):
    server = OneAnswerServer(tmp_path, [(401, {'data': None}), (200, {'errors': 'x'}), (200, b'<html>')])
    client = PveClient(server.settings(path_prefix='pve'), timeout=5)
    with pytest.raises(PveHttpError) as refused:
        client.get('/version')
    assert refused.value.status == 401 and refused.value.text == 'Reason 401'
    with pytest.raises(ValueError, match='no "data"'):
        client.get('/version')
    with pytest.raises(ValueError):
        client.get('/version')
    assert server.requests[0][0] == 'GET /pve/api2/json/version HTTP/1.1'


def test_a_certificate_the_ca_file_does_not_vouch_for_is_refused(tmp_path):
    server = OneAnswerServer(tmp_path, [(200, {'data': 1})])
    other = OneAnswerServer(tmp_path, [], name='other')
    with pytest.raises(ssl.SSLCertVerificationError):
        PveClient(server.settings(verify=other.ca_file), timeout=5).get('/version')
    assert PveClient(server.settings(verify=False), timeout=5).get('/version') == 1
