# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Talos API client against a real gRPC server over TLS with Ed25519 certificates on 127.0.0.1."""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import socket
import ssl
import time

import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import TalosClient
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.credentials import load_talosconfig
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._retry import RetryPolicy

from . import certs

FAST = RetryPolicy(attempts=3, first=0.01, cap=0.02)


def client_for(server, talosconfig, **kwargs):
    kwargs.setdefault('retry', FAST)
    kwargs.setdefault('timeout', 10)
    return TalosClient(server.endpoint, credentials=load_talosconfig(talosconfig), **kwargs)


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_stdlib_ssl_negotiates_tls_with_ed25519_certificates(pki, configured_node, tmp_path):
    # The premise of the whole client: OpenSSL through the ssl module speaks Ed25519 TLS with ALPN h2.
    (tmp_path / 'c.crt').write_bytes(pki.admin.cert_pem)
    (tmp_path / 'c.key').write_bytes(pki.admin.key_pem(talos_header=False))
    context = ssl.create_default_context(cadata=pki.os_ca.cert_pem.decode())
    context.load_cert_chain(str(tmp_path / 'c.crt'), str(tmp_path / 'c.key'))
    context.set_alpn_protocols(['h2'])
    with socket.create_connection(('127.0.0.1', configured_node.port)) as raw:
        with context.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
            assert tls.selected_alpn_protocol() == 'h2'
            assert tls.version() in ('TLSv1.2', 'TLSv1.3')


def test_authenticated_call_returns_the_node_version(pki, configured_node, write_talosconfig):
    version = client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin)).version()
    assert version.version.tag == 'v1.9.6'
    assert version.features.rbac is True
    assert configured_node.state.calls == [('/machine.MachineService/Version', None)]


def test_client_from_the_talosconfig_environment_variable(pki, configured_node, write_talosconfig, monkeypatch):
    monkeypatch.setenv('TALOSCONFIG', write_talosconfig(pki.os_ca, pki.reader))
    client = TalosClient.from_talosconfig(configured_node.endpoint, retry=FAST)
    assert client.version().version.tag == 'v1.9.6'


def test_unary_reply_with_repeated_members(pki, configured_node, write_talosconfig):
    members = client_for(configured_node, write_talosconfig(pki.os_ca, pki.reader)).etcd_member_list()
    assert [member.hostname for member in members.members] == ['cp-1', 'cp-2', 'cp-3']
    assert members.members[0].id == 0x1A2B3C4D5E6F7082


def test_node_metadata_asks_the_endpoint_to_proxy(pki, configured_node, write_talosconfig):
    client = client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin), node='10.5.0.3')
    client.version()
    assert configured_node.state.calls == [('/machine.MachineService/Version', '10.5.0.3')]


def test_wrong_ca_fails_with_certificate_verify_failed(pki, configured_node, write_talosconfig):
    client = client_for(configured_node, write_talosconfig(pki.other_ca, certs.issue(pki.other_ca, roles=['os:admin'])))
    with pytest.raises(TalosApiError) as caught:
        client.version()
    error = caught.value
    assert error.reason == 'wrong_ca'
    assert (error.node, error.call) == ('127.0.0.1', 'Version')
    assert 'certificate verify failed' in str(error)
    assert 'not signed by the CA in the talosconfig' in str(error)
    assert configured_node.state.calls == []


def test_expired_client_certificate_fails_before_connecting(pki, write_talosconfig):
    expired = certs.issue(pki.os_ca, roles=['os:admin'], not_before=certs.NOW - 2 * certs.YEAR, not_after=certs.NOW - certs.YEAR)
    # Nothing listens on the port: a client that tried to connect would report the node unreachable.
    client = TalosClient('127.0.0.1:%d' % closed_port(), credentials=load_talosconfig(write_talosconfig(pki.os_ca, expired)),
                         retry=FAST)
    with pytest.raises(TalosApiError) as caught:
        client.version()
    assert caught.value.reason == 'client_cert_expired'
    assert 'expired on %s' % (certs.NOW - certs.YEAR).strftime('%Y-%m-%dT%H:%M:%SZ') in str(caught.value)
    assert caught.value.failure['not_after'] == (certs.NOW - certs.YEAR).strftime('%Y-%m-%dT%H:%M:%SZ')


def test_client_certificate_not_yet_valid_fails_with_its_dates(pki, write_talosconfig):
    future = certs.issue(pki.os_ca, roles=['os:admin'], not_before=certs.NOW + certs.YEAR, not_after=certs.NOW + 2 * certs.YEAR)
    client = TalosClient('127.0.0.1:%d' % closed_port(), credentials=load_talosconfig(write_talosconfig(pki.os_ca, future)))
    with pytest.raises(TalosApiError) as caught:
        client.version()
    assert caught.value.reason == 'client_cert_not_yet_valid'
    assert 'not valid before %s' % (certs.NOW + certs.YEAR).strftime('%Y-%m-%dT%H:%M:%SZ') in str(caught.value)


def test_client_certificate_of_another_ca_is_refused_by_the_node(pki, configured_node, tmp_path):
    # The talosconfig trusts the right CA, but its client certificate comes from another one.
    path = tmp_path / 'talosconfig'
    path.write_text(certs.talosconfig_text(pki.os_ca, certs.issue(pki.other_ca, roles=['os:admin'])))
    client = TalosClient(configured_node.endpoint, credentials=load_talosconfig(str(path)), retry=FAST, timeout=10)
    with pytest.raises(TalosApiError) as caught:
        client.version()
    assert caught.value.reason == 'client_cert_rejected'
    assert 'refused the client certificate' in str(caught.value)


def test_insecure_mode_talks_to_a_maintenance_node(maintenance_node):
    client = TalosClient(maintenance_node.endpoint, insecure=True, node='10.9.9.9', retry=FAST)
    assert client.machine_stage() == 'maintenance'
    # Maintenance mode knows no proxying: the node metadata is never sent.
    assert maintenance_node.state.calls == [('/cosi.resource.State/Get', None)]


def test_insecure_mode_on_a_configured_node_says_it_is_configured(configured_node):
    with pytest.raises(TalosApiError) as caught:
        TalosClient(configured_node.endpoint, insecure=True, retry=FAST).machine_stage()
    assert caught.value.reason == 'configured_node'
    assert 'not in maintenance mode' in str(caught.value)
    assert configured_node.state.calls == []


def test_insecure_version_on_a_maintenance_node_says_maintenance_mode(maintenance_node):
    with pytest.raises(TalosApiError) as caught:
        TalosClient(maintenance_node.endpoint, insecure=True, retry=FAST).version()
    assert caught.value.reason == 'maintenance_mode'
    assert caught.value.status == 'UNIMPLEMENTED'


def test_authenticated_client_on_a_maintenance_node_says_maintenance_mode(pki, maintenance_node, write_talosconfig):
    client = client_for(maintenance_node, write_talosconfig(pki.os_ca, pki.admin))
    with pytest.raises(TalosApiError) as caught:
        client.version()
    assert caught.value.reason == 'maintenance_mode'
    assert 'a configured node was expected' in str(caught.value)


def test_unavailable_is_retried_until_the_node_answers(pki, configured_node, write_talosconfig):
    configured_node.state.unavailable_left = 2
    client = client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin))
    assert client.version().version.tag == 'v1.9.6'
    assert len(configured_node.state.calls) == 3


def test_unavailable_gives_up_after_the_attempt_limit(pki, configured_node, write_talosconfig):
    configured_node.state.unavailable_left = 10
    client = client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin))
    with pytest.raises(TalosApiError) as caught:
        client.version()
    assert caught.value.reason == 'unavailable'
    assert caught.value.failure['attempts'] == 3
    assert 'node is rebooting' in str(caught.value)
    assert len(configured_node.state.calls) == 3


def test_unreachable_node_fails_after_bounded_retries(pki, write_talosconfig):
    client = TalosClient('127.0.0.1:%d' % closed_port(), credentials=load_talosconfig(write_talosconfig(pki.os_ca, pki.admin)),
                         retry=FAST)
    started = time.monotonic()
    with pytest.raises(TalosApiError) as caught:
        client.version()
    assert caught.value.reason == 'unreachable'
    assert caught.value.failure['attempts'] == 3
    assert 'cannot connect to 127.0.0.1' in str(caught.value)
    assert time.monotonic() - started < 5


def test_permission_denied_names_the_missing_role(pki, configured_node, write_talosconfig):
    client = client_for(configured_node, write_talosconfig(pki.os_ca, pki.reader))
    with pytest.raises(TalosApiError) as caught:
        client.kubeconfig()
    error = caught.value
    assert error.reason == 'permission_denied'
    assert error.status == 'PERMISSION_DENIED'
    assert 'holds the roles os:reader' in str(error)
    assert 'Kubeconfig needs one of os:admin' in str(error)


def test_unknown_config_keys_are_reported_as_such(pki, configured_node, write_talosconfig):
    client = client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin))
    with pytest.raises(TalosApiError) as caught:
        client.apply_configuration(b'machine:\n  unknownKey: 1\n', mode='no_reboot')
    assert caught.value.reason == 'unknown_config_keys'
    assert 'unknown keys found during decoding' in str(caught.value)
    assert '\n' not in str(caught.value)


def test_apply_dry_run_returns_the_summary(pki, configured_node, write_talosconfig):
    client = client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin))
    reply = client.apply_configuration(b'version: v1alpha1\n', mode='auto', dry_run=True,
                                       try_mode_timeout=datetime.timedelta(minutes=1))
    assert reply.mode_details.endswith('No changes.')


def test_kubeconfig_stream_is_reassembled_and_unpacked(pki, configured_node, write_talosconfig):
    kubeconfig = client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin)).kubeconfig()
    assert kubeconfig == configured_node.state.kubeconfig


def test_etcd_snapshot_stream_is_written_in_order(pki, configured_node, write_talosconfig):
    sink = io.BytesIO()
    size = client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin)).etcd_snapshot(sink)
    assert size == len(configured_node.state.snapshot)
    assert hashlib.sha256(sink.getvalue()).digest() == hashlib.sha256(configured_node.state.snapshot).digest()


def test_no_key_material_is_left_on_disk(pki, configured_node, write_talosconfig):
    before = {name for name in os.listdir('/dev/shm') if name.startswith('talos-tls-')} if os.path.isdir('/dev/shm') else set()
    client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin)).version()
    after = {name for name in os.listdir('/dev/shm') if name.startswith('talos-tls-')} if os.path.isdir('/dev/shm') else set()
    assert after == before


def test_service_list_gives_states_and_timestamps(pki, configured_node, write_talosconfig):
    services = client_for(configured_node, write_talosconfig(pki.os_ca, pki.reader)).service_list()
    assert [(service.id, service.state) for service in services] == [('etcd', 'Preparing')]
    assert services[0].health.last_change.ToSeconds() == 1700000000


def test_running_config_is_the_submitted_yaml(pki, configured_node, write_talosconfig):
    config = client_for(configured_node, write_talosconfig(pki.os_ca, pki.admin)).running_config()
    assert config == configured_node.state.running_config


def test_running_config_needs_the_admin_role(pki, configured_node, write_talosconfig):
    with pytest.raises(TalosApiError) as caught:
        client_for(configured_node, write_talosconfig(pki.os_ca, pki.reader)).running_config()
    assert caught.value.reason == 'permission_denied'
    assert 'holds the roles os:reader, but sensitive resources (machine configs, identities) need os:admin' in str(caught.value)


def test_configured_node_stage_is_running(pki, configured_node, write_talosconfig):
    assert client_for(configured_node, write_talosconfig(pki.os_ca, pki.reader)).machine_stage() == 'running'


def test_endpoint_missing_from_the_node_certificate_is_a_hostname_mismatch(pki, configured_node, write_talosconfig):
    # The node certificate names 127.0.0.1 only; "localhost" reaches the same server.
    client = TalosClient('localhost:%d' % configured_node.port, credentials=load_talosconfig(write_talosconfig(pki.os_ca, pki.admin)),
                         retry=FAST)
    with pytest.raises(TalosApiError) as caught:
        client.version()
    assert caught.value.reason == 'hostname_mismatch'
    assert 'machine.certSANs' in str(caught.value)


def test_key_not_matching_the_certificate_is_reported_without_key_material(pki, configured_node, tmp_path):
    mismatched = certs.Issued(pki.admin.cert, pki.reader.key)
    text = certs.talosconfig_text(pki.os_ca, mismatched)
    path = tmp_path / 'talosconfig'
    path.write_text(text)
    client = TalosClient(configured_node.endpoint, credentials=load_talosconfig(str(path)), retry=FAST)
    with pytest.raises(TalosApiError) as caught:
        client.version()
    assert caught.value.reason == 'bad_credentials'
    key_b64 = yaml.safe_load(text)['contexts']['lab']['key']
    body = b''.join(pki.reader.key_pem().splitlines()[1:-1]).decode()
    for shown in (str(caught.value), repr(caught.value.failure)):
        assert key_b64 not in shown and body not in shown
    assert configured_node.state.calls == []
