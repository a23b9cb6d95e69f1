"""The seal_secret filter in a real ansible-playbook run: the SealedSecret written to a file unseals with the
controller's key (made here), and a refused value never reaches the output."""
import base64
import datetime
import struct

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

CANARY = 'canary-Pw4-not-in-any-output'


def controller():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'sealed-secret')])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


def unseal(text, key, label):
    blob = base64.b64decode(text, validate=True)
    (length,) = struct.unpack('>H', blob[:2])
    session = key.decrypt(blob[2:2 + length], padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label))
    return AESGCM(session).decrypt(b'\x00' * 12, blob[2 + length:], None)


def test_a_playbook_writes_a_sealed_secret_the_controller_can_unseal(run_playbook, tmp_path):
    key, cert = controller()
    (tmp_path / 'cert.pem').write_text(cert)
    dest = tmp_path / 'db.sealed.yaml'
    task = {'name': 'seal', 'ansible.builtin.copy': {'dest': str(dest), 'mode': '0644', 'content': '{{ _sealed | to_nice_yaml }}'},
            'vars': {'_values': {'password': CANARY},
                     '_sealed': "{{ _values | hybridops.talos.seal_secret(name='db', namespace='apps', "
                                "certificate=lookup('ansible.builtin.file', 'cert.pem')) }}"}}
    run = run_playbook([{'name': 'seal', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [task]}])
    assert run.rc == 0, run
    obj = yaml.safe_load(dest.read_text())
    assert obj['kind'] == 'SealedSecret' and obj['metadata'] == {'name': 'db', 'namespace': 'apps'}
    assert unseal(obj['spec']['encryptedData']['password'], key, b'apps/db') == CANARY.encode()
    assert CANARY not in run.stdout + run.stderr + dest.read_text()


def test_a_refused_value_is_not_in_the_playbooks_output(run_playbook, tmp_path):
    dummy, cert = controller()
    (tmp_path / 'cert.pem').write_text(cert)
    sealed = "{{ _values | hybridops.talos.seal_secret(name='db', namespace='apps', certificate=lookup('ansible.builtin.file', 'cert.pem')) }}"
    task = {'name': 'seal', 'ansible.builtin.set_fact': {'_sealed': sealed},
            'vars': {'_values': {'pass word': CANARY}}}
    run = run_playbook([{'name': 'seal', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [task]}], '-vvv')
    assert run.rc != 0
    assert "Key 'pass word' is not a valid Secret key" in run.result('seal')['msg']
    assert CANARY not in run.stdout + run.stderr
