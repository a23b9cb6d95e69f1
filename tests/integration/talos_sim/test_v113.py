"""A v1.13.9 node in maintenance mode: the unified API (reader role for all), not v1.9.6's separate server."""

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos import render, secrets
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError

from sim_support import SPARE, V113_NODE
from talos_lab import SCHEMAS, insecure

pytestmark = pytest.mark.lab


def _v113_worker_config():
    """A v1.13-contract worker config (multi-document), rendered by the collection from a fresh bundle."""
    spec = dict(cluster_name='sim', cluster_endpoint='https://198.18.1.1:6443', talos_version='v1.13.9', kubernetes_version='1.32.3',
                hostname=V113_NODE, site='home', role='worker', schema_dir=SCHEMAS)
    return render.render(spec, secrets.generate_bundle((1, 13))).text.encode()


def _error(call):
    with pytest.raises(TalosApiError) as caught:
        call()
    return caught.value


def test_reader_calls_answer_in_maintenance(sim):
    node = insecure(sim.address(V113_NODE))
    assert node.machine_stage() == 'maintenance'
    version = node.version()
    assert version.version.tag == 'v1.13.9' and not version.HasField('features')
    assert {s.id for s in node.service_list()} >= {'apid', 'machined'}


def test_admin_and_control_plane_calls_are_refused(sim):
    node = insecure(sim.address(V113_NODE))
    assert _error(node.bootstrap).status == 'PERMISSION_DENIED'
    assert _error(node.kubeconfig).status == 'PERMISSION_DENIED'
    members = _error(node.etcd_member_list)
    assert members.status == 'UNIMPLEMENTED' and 'machine type is not set, cannot use member list API' in members.why


def test_dry_run_has_the_generic_text_and_a_diff(sim):
    node = insecure(sim.address(V113_NODE))
    config = _v113_worker_config()
    reply = node.apply_configuration(config, mode='auto', dry_run=True)
    # REBOOT and AUTO become NO_REBOOT in v1.13 maintenance mode.
    assert reply.mode_details.startswith('Dry run summary:\nApplied configuration without a reboot (skipped in dry-run).\n'
                                         'Config diff:\n\n')
    assert '+kind: KubeSpanConfig' in reply.mode_details
    assert node.machine_stage() == 'maintenance'


def test_config_of_the_older_contract_is_refused(sim, cluster):
    node = insecure(sim.address(V113_NODE))
    error = _error(lambda: node.apply_configuration(cluster.config('worker'), dry_run=True))
    assert error.reason == 'unknown_config_keys' and 'network' in error.why


def test_newer_contract_is_refused_by_a_v19_node(sim):
    node = insecure(sim.address(SPARE))
    assert node.machine_stage() == 'maintenance'
    # v1.9.6's maintenance server returns decoding failures as plain errors (code UNKNOWN).
    error = _error(lambda: node.apply_configuration(_v113_worker_config(), dry_run=False))
    assert 'unknown keys found during decoding' in error.why
