# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the Talos API client: talosconfig reading, key labels, validity, backoff, error wording."""

from __future__ import annotations

import base64
import datetime
import os
import shutil
import ssl
import stat

import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api import calls, credentials, tls
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import TalosClient, split_endpoint
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError, describe_status, quote

from . import certs
from .fake_node import allowed_roles


@pytest.fixture(scope='module')
def material():
    ca = certs.make_ca('talos')
    return ca, certs.issue(ca, roles=['os:admin', 'os:etcd:backup'])


def talosconfig_data(material, **context_overrides):
    data = yaml.safe_load(certs.talosconfig_text(*material))
    data['contexts']['lab'].update(context_overrides)
    return data


# --- talosconfig -------------------------------------------------------------------------------

def test_talosconfig_context_gives_pem_credentials(material):
    ca, client = material
    creds = credentials.parse_talosconfig(talosconfig_data(material), 'cfg')
    assert creds.ca == ca.cert_pem
    assert creds.crt == client.cert_pem
    assert creds.key.startswith(b'-----BEGIN PRIVATE KEY-')
    assert (creds.context, creds.endpoints, creds.nodes) == ('lab', ['127.0.0.1'], [])


def test_legacy_target_is_appended_to_the_endpoints(material):
    creds = credentials.parse_talosconfig(talosconfig_data(material, target='10.5.0.9'), 'cfg')
    assert creds.endpoints == ['127.0.0.1', '10.5.0.9']


def test_unknown_context_lists_the_known_ones(material):
    with pytest.raises(TalosApiError) as caught:
        credentials.parse_talosconfig(talosconfig_data(material), '/x/talosconfig', context='prod')
    assert caught.value.reason == 'bad_talosconfig'
    assert str(caught.value) == 'the talosconfig /x/talosconfig has no context prod; it has lab.'


@pytest.mark.parametrize('field,value,expected', [
    ('key', None, 'has no key'),
    ('crt', 'not base64!', 'crt of context lab in the talosconfig cfg is not base64'),
    ('ca', base64.b64encode(b'plain text').decode(), 'ca of context lab in the talosconfig cfg is not PEM'),
])
def test_broken_context_fields_are_named_without_their_value(material, field, value, expected):
    data = talosconfig_data(material)
    data['contexts']['lab'][field] = value
    with pytest.raises(TalosApiError) as caught:
        credentials.parse_talosconfig(data, 'cfg')
    assert expected in str(caught.value)
    assert 'PRIVATE' not in str(caught.value)


def test_talosconfig_without_contexts_is_refused():
    with pytest.raises(TalosApiError, match='has no contexts'):
        credentials.parse_talosconfig({'context': 'a'}, 'cfg')


def test_invalid_yaml_error_names_the_line_not_the_content(tmp_path):
    path = tmp_path / 'talosconfig'
    path.write_text('context: lab\ncontexts:\n  lab: {key: "c2VjcmV0\n')
    with pytest.raises(TalosApiError) as caught:
        credentials.load_talosconfig(str(path))
    assert 'is not valid YAML at line' in str(caught.value)
    assert 'c2VjcmV0' not in str(caught.value)


def test_missing_talosconfig_file_is_reported(tmp_path):
    with pytest.raises(TalosApiError, match='cannot read the talosconfig .*No such file'):
        credentials.load_talosconfig(str(tmp_path / 'absent'))


def test_talosconfig_lookup_order(tmp_path):
    assert credentials.find_talosconfig({'TALOSCONFIG': '/a/cfg', 'TALOS_HOME': '/b'}) == '/a/cfg'
    assert credentials.find_talosconfig({'TALOS_HOME': '/b', 'HOME': str(tmp_path)}) == '/b/config'
    assert credentials.find_talosconfig({'TALOS_HOME': 'relative', 'HOME': str(tmp_path)}) == str(tmp_path / '.talos' / 'config')


# --- the Ed25519 key label -----------------------------------------------------------------------

def test_talos_ed25519_key_label_is_rewritten_for_openssl(material, tmp_path):
    _ca, client = material
    talos_pem = client.key_pem(talos_header=True)
    assert talos_pem.startswith(b'-----BEGIN ED25519 PRIVATE KEY-')
    rewritten = credentials.key_pem_for_ssl(talos_pem)
    assert rewritten == client.key_pem(talos_header=False)
    (tmp_path / 'c.crt').write_bytes(client.cert_pem)
    (tmp_path / 'talos.key').write_bytes(talos_pem)
    (tmp_path / 'rewritten.key').write_bytes(rewritten)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ssl.SSLError):
        context.load_cert_chain(str(tmp_path / 'c.crt'), str(tmp_path / 'talos.key'))
    context.load_cert_chain(str(tmp_path / 'c.crt'), str(tmp_path / 'rewritten.key'))


@pytest.mark.parametrize('label', [b'PRIVATE KEY', b'EC PRIVATE KEY', b'RSA PRIVATE KEY'])
def test_other_key_labels_are_left_alone(label):
    pem = b'-----BEGIN %s-----\nAAAA\n-----END %s-----\n' % (label, label)
    assert credentials.key_pem_for_ssl(pem) == pem


# --- certificate checks --------------------------------------------------------------------------

def test_certificate_info_reads_roles_and_dates(material):
    _ca, client = material
    info = credentials.certificate_info(client.cert_pem)
    assert info.roles == ['os:admin', 'os:etcd:backup']
    assert info.not_after - info.not_before == certs.YEAR + datetime.timedelta(hours=1)


def validity(start, end):
    return credentials.CertificateInfo('O=os:admin', ['os:admin'], start, end)


UTC = datetime.timezone.utc


def test_expired_certificate_error_gives_both_dates():
    info = validity(datetime.datetime(2024, 1, 1, tzinfo=UTC), datetime.datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(TalosApiError) as caught:
        credentials.check_validity(info, node='10.5.0.2', call='Version', now=datetime.datetime(2025, 6, 1, tzinfo=UTC))
    error = caught.value
    assert error.reason == 'client_cert_expired'
    assert str(error) == ('Talos API call Version to node 10.5.0.2 failed: the client certificate in the talosconfig expired on '
                          '2025-01-01T00:00:00Z (valid from 2024-01-01T00:00:00Z to 2025-01-01T00:00:00Z, now '
                          '2025-06-01T00:00:00Z): issue a new one from the OS CA.')
    assert error.failure['not_before'] == '2024-01-01T00:00:00Z'


def test_certificate_from_the_future_is_not_yet_valid():
    info = validity(datetime.datetime(2030, 1, 1, tzinfo=UTC), datetime.datetime(2031, 1, 1, tzinfo=UTC))
    with pytest.raises(TalosApiError) as caught:
        credentials.check_validity(info, now=datetime.datetime(2029, 12, 31, tzinfo=UTC))
    assert caught.value.reason == 'client_cert_not_yet_valid'
    assert 'not valid before 2030-01-01T00:00:00Z' in str(caught.value)


def test_certificate_inside_its_window_passes():
    info = validity(datetime.datetime(2024, 1, 1, tzinfo=UTC), datetime.datetime(2025, 1, 1, tzinfo=UTC))
    credentials.check_validity(info, now=datetime.datetime(2024, 6, 1, tzinfo=UTC))


# --- error wording -------------------------------------------------------------------------------

@pytest.mark.parametrize('status,text,call,reason,fragment', [
    ('PERMISSION_DENIED', 'not authorized', 'Bootstrap', 'permission_denied', 'holds the roles os:reader, but Bootstrap needs one of os:admin'),
    ('PERMISSION_DENIED', 'resource type "X" is not supported', 'Get', 'permission_denied', 'refused it: resource type "X"'),
    ('INVALID_ARGUMENT', 'unknown keys found during decoding:\nmachine:\n  foo: 1', 'ApplyConfiguration', 'unknown_config_keys',
     'newer Talos contract'),
    ('INVALID_ARGUMENT', 'configuration validation failed: 1 error occurred', 'ApplyConfiguration', 'invalid_argument',
     'rejected the request as invalid: configuration validation failed'),
    ('UNIMPLEMENTED', 'API is not implemented in maintenance mode', 'Version', 'maintenance_mode', 'maintenance mode'),
    ('UNIMPLEMENTED', 'machine type is not set, cannot use member list API', 'EtcdMemberList', 'maintenance_mode', 'no machine config'),
    ('UNIMPLEMENTED', 'member list is only available on control plane nodes', 'EtcdMemberList', 'not_control_plane', 'not a control plane'),
    ('UNAVAILABLE', 'connection refused', 'Version', 'unavailable', 'unavailable (connection refused)'),
    ('ALREADY_EXISTS', 'etcd data directory is not empty', 'Bootstrap', 'already_exists', 'ALREADY_EXISTS: etcd data directory'),
    ('NOT_FOUND', 'resource doesn\'t exist', 'Get', 'not_found', 'NOT_FOUND'),
])
def test_grpc_statuses_become_reasons(status, text, call, reason, fragment):
    got_reason, why = describe_status(status, text, call, roles=['os:reader'])
    assert got_reason == reason
    assert fragment in why
    assert '\n' not in why


def test_server_text_is_bounded():
    assert len(quote('x' * 5000)) < 700


def test_error_message_and_failure_carry_node_call_and_reason():
    error = TalosApiError('wrong_ca', 'certificate verify failed', node='10.5.0.2', call='Version', status=None, endpoint='10.5.0.2:50000')
    assert str(error) == 'Talos API call Version to node 10.5.0.2 failed: certificate verify failed.'
    assert error.failure == {'reason': 'wrong_ca', 'node': '10.5.0.2', 'call': 'Version', 'status': None,
                             'message': 'certificate verify failed', 'endpoint': '10.5.0.2:50000'}


def verify_error(code, message):
    exc = ssl.SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')
    exc.verify_code = code
    exc.verify_message = message
    exc.reason = 'CERTIFICATE_VERIFY_FAILED'
    return exc


def test_verify_failure_against_a_maintenance_certificate_means_maintenance_mode():
    peer = {'subject': 'maintenance-service.talos.dev', 'issuer': 'maintenance-root'}
    reason, why = tls.describe_verify_failure(verify_error(20, 'unable to get local issuer certificate'), peer, '10.5.0.2')
    assert reason == 'maintenance_mode'
    assert 'certificate verify failed: unable to get local issuer certificate' in why


def test_verify_failure_against_another_ca_names_the_issuer():
    peer = {'subject': 'cp-1', 'issuer': 'talos-other'}
    reason, why = tls.describe_verify_failure(verify_error(20, 'unable to get local issuer certificate'), peer, '10.5.0.2')
    assert reason == 'wrong_ca'
    assert 'issued by talos-other' in why


def test_hostname_mismatch_points_at_cert_sans():
    reason, why = tls.describe_verify_failure(verify_error(64, "IP address mismatch, certificate is not valid for '10.5.0.2'."),
                                              None, '10.5.0.2')
    assert reason == 'hostname_mismatch'
    assert 'machine.certSANs' in why


def test_tls_alerts_about_the_client_certificate_are_recognised():
    reason, _why = tls.describe_tls_error(ssl.SSLError(1, '[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca'))
    assert reason == 'client_cert_rejected'


# --- endpoints, modes, private files -------------------------------------------------------------

@pytest.mark.parametrize('endpoint,expected', [
    ('10.5.0.2', ('10.5.0.2', 50000)),
    ('10.5.0.2:50001', ('10.5.0.2', 50001)),
    ('cp1.example.net', ('cp1.example.net', 50000)),
    ('[fd00::2]:50000', ('fd00::2', 50000)),
    ('fd00::2', ('fd00::2', 50000)),
])
def test_endpoints_split_as_talosctl_reads_them(endpoint, expected):
    assert split_endpoint(endpoint) == expected


@pytest.mark.parametrize('endpoint', ['', 'https://10.5.0.2', '10.5.0.2:http', '10.5.0.2:70000'])
def test_bad_endpoints_are_refused(endpoint):
    with pytest.raises(TalosApiError) as caught:
        split_endpoint(endpoint)
    assert caught.value.reason == 'bad_endpoint'


def test_authenticated_mode_needs_credentials():
    with pytest.raises(TalosApiError, match='needs talosconfig credentials'):
        TalosClient('10.5.0.2')


def test_node_metadata_only_when_proxying():
    assert TalosClient('10.5.0.2', insecure=True, node='10.5.0.3')._metadata() is None
    creds = credentials.Credentials(b'', b'', b'', [], [], 'lab', 'cfg')
    assert TalosClient('10.5.0.2', credentials=creds, node='10.5.0.2')._metadata() is None
    assert TalosClient('10.5.0.2', credentials=creds, node='10.5.0.3')._metadata() == {'node': '10.5.0.3'}
    # Failing over to another endpoint: a call about the first endpoint is proxied by the second.
    client = TalosClient(['10.5.0.2', '10.5.0.3'], credentials=creds, node='10.5.0.2')
    client._current = 1
    assert client._metadata() == {'node': '10.5.0.2'} and client.target == '10.5.0.2'


def test_key_material_goes_to_a_private_directory():
    directory = tls._private_dir()
    try:
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        path = os.path.join(directory, 'client.key')
        tls._write_private(path, b'k')
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        shutil.rmtree(directory)


@pytest.mark.parametrize('tag', ['v1.9.6', 'v1.13.9'])
def test_roles_named_in_errors_are_those_of_the_facts(tag):
    facts = {path.rsplit('/', 1)[1]: roles for path, roles in allowed_roles(tag).items()}
    for name, call in calls.CALLS.items():
        assert set(call.roles) <= facts[name], name
        if tag == 'v1.9.6':
            assert set(call.roles) == facts[name], name
