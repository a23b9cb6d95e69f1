"""talos_certificates_info in-process against a real TLS server (the fake Talos node of the API tests): the bundle's
CAs, the talosconfig's client certificate and the node's serving certificate, with warnings in the window."""
import datetime
import os
import socket
import sys

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets

from module_runner import run_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit', 'plugins', 'module_utils', 'talos'))

from api import certs, fake_node  # noqa: E402  pylint: disable=wrong-import-position

SOON = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=100)


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    ca = certs.make_ca('talos')
    server = certs.issue(ca, common_name='cp-1', server_ips=['127.0.0.1'], not_after=SOON)
    client = certs.issue(ca, roles=['os:reader'])
    folder = tmp_path_factory.mktemp('certs') / 's'
    os.makedirs(str(folder), mode=0o700)
    talosconfig, bundle = str(folder / 'talosconfig'), str(folder / 'secrets.yaml')
    for path, data in ((talosconfig, certs.talosconfig_text(ca, client).encode()),
                       (bundle, secrets.dump_bundle(secrets.generate_bundle((1, 9))))):
        with open(path, 'wb') as handle:
            handle.write(data)
        os.chmod(path, 0o600)
    with fake_node.FakeNode(fake_node.NodeState(), fake_node.server_context(server, client_ca=ca)) as served:
        yield dict(talosconfig=talosconfig, bundle=bundle, node=served.endpoint)


def _closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_every_certificate_is_read_and_the_soonest_comes_first_with_a_warning(capsys, lab):
    closed = '127.0.0.1:%d' % _closed_port()
    result = run_module(capsys, 'talos_certificates_info', {
        'talosconfig': lab['talosconfig'], 'secrets': lab['bundle'], 'warn_before_hours': 720, 'nodes': [lab['node'], closed]})
    assert not result.get('failed'), result
    found = result['certificates']
    assert sorted(e['name'] for e in found) == sorted(['os CA', 'k8s CA', 'k8saggregator CA', 'etcd CA', 'Talos client', 'Talos API'])
    first = found[0]
    assert (first['name'], first['kind'], first['where']) == ('Talos API', 'serving', lab['node'])
    assert 98 <= first['hours_left'] <= 100
    assert result['expiring'] == ['Talos API (%s)' % lab['node']] and result['expired'] == []
    cas = [e for e in found if e['kind'] == 'ca']
    assert all(e['hours_left'] > 24 * 365 * 9 for e in cas)  # Talos makes its CAs for 10 years
    assert list(result['unreachable']) == [closed] and 'ConnectionRefused' in result['unreachable'][closed]
    text = repr(result)
    assert 'PRIVATE KEY' not in text and 'key' not in {k for e in found for k in e}


def test_a_narrow_window_warns_about_nothing(capsys, lab):
    result = run_module(capsys, 'talos_certificates_info', {'talosconfig': lab['talosconfig'], 'nodes': [lab['node']],
                                                            'warn_before_hours': 24})
    assert result['expiring'] == [] and result['expired'] == []
