"""Apply modes that reboot, stage or try: the node goes away for the configured time and comes back."""
import time

import pytest

from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import TalosClient
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._retry import NO_RETRY

from sim_support import REBOOT_SECONDS, configure, listening, wait_for

pytestmark = pytest.mark.lab


def _downtime(address, timeout=REBOOT_SECONDS + 10):
    """Seconds from now until the node answers on 50000 again, after it has gone away first."""
    started = time.monotonic()
    wait_for(lambda: not listening(address), 2, step=0.02, what='node going away')
    wait_for(lambda: listening(address), timeout, step=0.05, what='node coming back')
    return time.monotonic() - started


def test_reboot_mode_takes_the_node_away_for_the_configured_time(sim, cluster, cp0):
    worker = configure(sim, cluster, 'home-w-0', 'worker')
    new = cluster.config('worker', env={'REBOOTED': '1'})
    dry = worker.apply_configuration(new, mode='auto', dry_run=True)
    assert dry.mode_details.startswith('Dry run summary:\nApplied configuration with a reboot: ')
    reply = worker.apply_configuration(new, mode='reboot')
    assert reply.mode_details == 'Applied configuration with a reboot'
    seconds = _downtime(sim.address('home-w-0'))
    assert REBOOT_SECONDS * 0.9 <= seconds <= REBOOT_SECONDS + 3
    wait_for(lambda: worker.machine_stage() == 'running', 10, what='running after the reboot')
    assert worker.running_config() == new


def test_staged_config_waits_for_the_next_reboot(sim, cluster, cp0):
    worker = configure(sim, cluster, 'home-w-0', 'worker')
    before = worker.running_config()
    staged = cluster.config('worker', env={'STAGED': '1'})
    reply = worker.apply_configuration(staged, mode='staged')
    assert reply.mode_details == 'Staged configuration to be applied after the next reboot'
    assert worker.running_config() == before
    worker.reboot()
    _downtime(sim.address('home-w-0'))
    wait_for(lambda: worker.running_config() == staged, 10, what='staged config running')


def test_try_mode_reverts_after_its_timeout(sim, cluster, cp0):
    import datetime
    before = cp0.running_config()
    trial = cluster.config('controlplane', extra_sans=['try.sim.example'])
    reply = cp0.apply_configuration(trial, mode='try', try_mode_timeout=datetime.timedelta(seconds=2))
    assert reply.mode_details == ("Applied configuration without a reboot\nThe config is applied in 'try' mode and will be "
                                  'automatically reverted back in 2s')
    assert cp0.running_config() == trial
    wait_for(lambda: cp0.running_config() == before, 6, step=0.3, what='try config reverted')


def test_no_reboot_refuses_a_change_that_needs_one(sim, cluster, cp0):
    with pytest.raises(TalosApiError) as refused:
        cp0.apply_configuration(cluster.config('controlplane', env={'X': '1'}), mode='no_reboot')
    assert refused.value.status == 'INVALID_ARGUMENT' and "can't be applied in immediate mode" in refused.value.why


def test_ext_key_usage_check_after_a_reboot_into_a_config_that_asks(sim, cluster, cp0):
    """machine.features.apidCheckExtKeyUsage (v1.9.6) needs a reboot; then a client certificate usable for
    servers too is refused, and one for clients only still works."""
    worker = configure(sim, cluster, 'home-w-0', 'worker')
    strict = cluster.config('worker', features={'rbac': True, 'apidCheckExtKeyUsage': True})
    reply = worker.apply_configuration(strict, mode='auto')
    assert reply.mode_details.startswith('Applied configuration with a reboot: ') and 'machine.features' in reply.mode_details
    _downtime(sim.address('home-w-0'))
    wait_for(lambda: worker.running_config() == strict, 10, what='strict config running')
    both = TalosClient(sim.address('home-w-0'), retry=NO_RETRY, credentials=cluster.credentials(
        usages=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)))
    with pytest.raises(TalosApiError) as refused:
        both.version()
    # Talos refuses it in the handshake; the simulator (Python's ssl has no verify callback) drops the connection.
    assert refused.value.reason == 'unavailable' and 'connection was lost' in refused.value.why
    assert worker.version().features.rbac


def _server_sans(address):
    import ssl
    from cryptography import x509
    pem = ssl.get_server_certificate((address, 50000))
    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in names.get_values_for_type(x509.IPAddress)} | set(names.get_values_for_type(x509.DNSName)), cert


def test_api_certificate_follows_cert_sans_without_a_reboot(sim, cluster, cp0):
    from cryptography.hazmat.primitives.asymmetric import ed25519
    before = cp0.running_config()
    sans, cert = _server_sans(sim.address('vps-0'))
    assert sim.address('vps-0') in sans and 'vps-0' in sans
    cert.verify_directly_issued_by(cluster.os_ca.cert)
    assert isinstance(cert.public_key(), ed25519.Ed25519PublicKey)  # the key type follows the OS CA
    wider = cluster.config('controlplane', extra_sans=['api.sim.example', '198.18.9.9'])
    assert cp0.apply_configuration(wider, mode='no_reboot').mode_details == 'Applied configuration without a reboot'
    try:
        sans, cert = _server_sans(sim.address('vps-0'))
        assert {'api.sim.example', '198.18.9.9', sim.address('vps-0')} <= sans
    finally:
        cp0.apply_configuration(before, mode='no_reboot')
