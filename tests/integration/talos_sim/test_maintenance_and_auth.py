"""Maintenance mode, the insecure apply, and what a configured node asks of its clients (mTLS, roles)."""
import json
import os

import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError

from sim_support import SPARE
from talos_lab import CA, Cluster, SCHEMAS, insecure

pytestmark = pytest.mark.lab


def _error(call):
    with pytest.raises(TalosApiError) as caught:
        call()
    return caught.value


def test_maintenance_node_serves_only_the_insecure_api(sim, cluster):
    node = insecure(sim.address(SPARE))
    assert node.machine_stage() == 'maintenance'
    # v1.9.6's maintenance server: Version is admin-only there, so an insecure client is refused.
    assert _error(node.version).reason == 'maintenance_mode'
    assert _error(node.service_list).reason in ('unimplemented', 'maintenance_mode')
    reply = node.apply_configuration(cluster.config('controlplane'), mode='auto', dry_run=True)
    assert reply.mode_details == 'Dry run summary:\nNode is running in maintenance mode and does not have a config yet.'
    refused = _error(lambda: node.apply_configuration(cluster.config('controlplane'), mode='no_reboot'))
    assert "apply configuration --mode='no-reboot' is not supported in maintenance mode" in refused.why
    # The maintenance certificate (CN maintenance-service.talos.dev) is from no cluster CA: the client says so.
    assert _error(cluster.client(sim.address(SPARE)).version).reason == 'maintenance_mode'


def test_insecure_apply_then_only_mtls(sim, cluster, cp0):
    assert cp0.machine_stage() == 'running'
    assert cp0.version().version.tag == 'v1.9.6'
    assert cp0.running_config() == cluster.config('controlplane')
    refused = _error(insecure(sim.address('vps-0')).version)
    assert refused.reason == 'configured_node'


def test_wrong_ca_is_refused_both_ways(sim, cluster, cp0):
    other = Cluster()
    # Client trusts another CA: the node's certificate does not verify.
    assert _error(other.client(sim.address('vps-0')).version).reason == 'wrong_ca'
    # Client certificate from another CA, node verified correctly: the node refuses the client.
    stranger = CA()
    client = cluster.client(sim.address('vps-0'), ca=stranger)
    assert _error(client.version).reason == 'client_cert_rejected'


def test_reader_cannot_apply(sim, cluster, cp0):
    reader = cluster.client(sim.address('vps-0'), roles=('os:reader',))
    assert reader.machine_stage() == 'running'
    error = _error(lambda: reader.apply_configuration(cluster.config('controlplane'), dry_run=True))
    assert error.reason == 'permission_denied' and error.status == 'PERMISSION_DENIED'
    assert 'os:reader' in error.why and 'os:admin' in error.why
    # Sensitive resources too: the running config needs os:admin.
    assert _error(reader.running_config).reason == 'permission_denied'


def test_invalid_config_names_the_path(sim, cluster, cp0):
    doc = yaml.safe_load(cluster.config('controlplane'))
    doc['machine']['install']['disk'] = 5
    error = _error(lambda: cp0.apply_configuration(yaml.safe_dump(doc).encode(), dry_run=True))
    assert error.status == 'INVALID_ARGUMENT'
    assert "machine.install.disk: 5 is not of type 'string'" in error.why


def test_newer_contract_fails_decoding(sim, cluster, cp0):
    """A key only the v1.13 schema knows (found from both schemas, not hard-coded) fails as unknown."""
    schemas = [json.load(open(os.path.join(SCHEMAS, name), encoding='utf-8')) for name in ('v1.9.json', 'v1.13.json')]
    old, new = (set(s['$defs']['v1alpha1.InstallConfig']['properties']) for s in schemas)
    newer = sorted(new - old)[0]
    doc = yaml.safe_load(cluster.config('controlplane'))
    doc['machine']['install'][newer] = True
    error = _error(lambda: cp0.apply_configuration(yaml.safe_dump(doc).encode(), dry_run=True))
    assert error.reason == 'unknown_config_keys'
    assert 'unknown keys found during decoding' in error.why and newer in error.why


def test_dry_run_reports_no_changes_then_a_diff(sim, cluster, cp0):
    same = cp0.apply_configuration(cluster.config('controlplane'), mode='auto', dry_run=True)
    assert same.mode_details == ('Dry run summary:\nApplied configuration without a reboot (skipped in dry-run).\n'
                                 'Config diff:\n\nNo changes.')
    changed = cp0.apply_configuration(cluster.config('controlplane', extra_sans=['k8s.sim.example']), mode='auto', dry_run=True)
    assert changed.mode_details.startswith('Dry run summary:\nApplied configuration without a reboot (skipped in dry-run).\n'
                                           'Config diff:\n\n')
    assert '+    - k8s.sim.example' in changed.mode_details or '+  - k8s.sim.example' in changed.mode_details
    # Changing the machine type cannot be applied at once: auto resolves to a reboot and says why.
    worker_env = cp0.apply_configuration(cluster.config('controlplane', env={'LAB': '1'}), mode='auto', dry_run=True)
    assert worker_env.mode_details.startswith('Dry run summary:\nApplied configuration with a reboot: '
                                              "this config change can't be applied in immediate mode")
    refused = _error(lambda: cp0.apply_configuration(cluster.config('controlplane', env={'LAB': '1'}), mode='no_reboot'))
    assert refused.status == 'INVALID_ARGUMENT' and 'machine.env' in refused.why
    assert cp0.running_config() == cluster.config('controlplane')


def test_cosi_reads(sim, cluster, cp0):
    from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import definitions_cluster_pb2
    members = cp0.list_resources('cluster', 'Members.cluster.talos.dev')
    assert 'vps-0' in [m.metadata.id for m in members]
    spec = definitions_cluster_pb2.MemberSpec.FromString(members[0].spec.proto_spec)
    assert spec.hostname and spec.addresses
    assert _error(lambda: cp0.get_resource('runtime', 'NoSuchThings.talos.dev', 'x')).reason == 'permission_denied'
    assert _error(lambda: cp0.get_resource('runtime', 'MachineStatuses.runtime.talos.dev', 'nope')).status == 'NOT_FOUND'
