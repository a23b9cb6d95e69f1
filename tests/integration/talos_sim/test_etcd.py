"""Real etcd behind the control planes: bootstrap once, joins, member list and status, snapshots, kubeconfig."""
import base64
import os
import subprocess

import pytest
import yaml
from cryptography import x509

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import definitions_etcd_pb2

from sim_support import configure, listening, wait_for
from talos_lab import talos_command

pytestmark = pytest.mark.lab


def _etcd_state(client):
    return next(s.state for s in client.service_list() if s.id == 'etcd')


def test_etcd_waits_in_preparing_until_bootstrap(sim, cluster, cp0):
    # Runs before the first test that uses the `bootstrapped` fixture (file order).
    assert _etcd_state(cp0) == 'Preparing'
    with pytest.raises(TalosApiError) as early:
        cp0.etcd_status()
    assert early.value.status == 'FAILED_PRECONDITION'
    assert cp0.list_resources('etcd', 'EtcdMembers.etcd.talos.dev') == []


def test_bootstrap_starts_etcd_once(sim, bootstrapped):
    assert _etcd_state(bootstrapped) == 'Running'
    status = bootstrapped.etcd_status()
    assert status.member_id and status.protocol_version.startswith('3.')
    assert os.path.isdir(os.path.join(sim.node_dir('vps-0'), 'etcd', 'member'))
    with pytest.raises(TalosApiError) as second:
        bootstrapped.bootstrap()
    assert second.value.status == 'ALREADY_EXISTS' and 'etcd data directory is not empty' in second.value.why
    local = bootstrapped.get_resource('etcd', 'EtcdMembers.etcd.talos.dev', 'local')
    assert definitions_etcd_pb2.MemberSpec.FromString(local.spec.proto_spec).member_id == '%016x' % status.member_id


def test_bootstrap_on_a_worker_is_refused(sim, cluster, cp0):
    worker = configure(sim, cluster, 'home-w-0', 'worker')
    with pytest.raises(TalosApiError) as refused:
        worker.bootstrap()
    assert refused.value.status == 'FAILED_PRECONDITION'
    assert 'bootstrap can only be performed on a control plane node' in refused.value.why
    with pytest.raises(TalosApiError) as members:
        worker.etcd_member_list()
    assert members.value.reason == 'not_control_plane'


def test_other_control_planes_join(sim, joined, cluster):
    members = joined.etcd_member_list().members
    assert sorted(m.hostname for m in members) == ['home-cp-0', 'vps-0', 'vps-1']
    assert sorted(u for m in members for u in m.peer_urls) == sorted(
        'http://%s:2380' % sim.address(name) for name in ('home-cp-0', 'vps-0', 'vps-1'))
    leaders = set()
    for name in ('vps-0', 'vps-1', 'home-cp-0'):
        client = cluster.client(sim.address(name))
        assert _etcd_state(client) == 'Running'
        status = client.etcd_status()
        assert not status.errors
        leaders.add(status.leader)
    assert len(leaders) == 1 and leaders <= {m.id for m in members}
    # Bootstrap on a control plane that joined: its etcd data directory is not empty either.
    with pytest.raises(TalosApiError) as again:
        cluster.client(sim.address('vps-1')).bootstrap()
    assert again.value.status == 'ALREADY_EXISTS'


def test_snapshot_is_a_real_etcd_snapshot(sim, joined, tmp_path):
    path = tmp_path / 'etcd.snapshot'
    with open(path, 'wb') as sink:
        size = joined.etcd_snapshot(sink)
    assert size == path.stat().st_size > 0
    check = subprocess.run(['etcdctl', 'snapshot', 'status', str(path), '-w', 'json'], capture_output=True, text=True,
                           env=dict(os.environ, ETCDCTL_API='3'), check=False)
    assert check.returncode == 0, check.stderr
    assert '"totalKey"' in check.stdout


def test_kubeconfig_is_signed_by_the_cluster_ca(sim, cluster, cp0):
    kubeconfig = yaml.safe_load(cp0.kubeconfig())
    assert kubeconfig['current-context'] == 'admin@sim'
    assert kubeconfig['clusters'][0]['cluster']['server'] == cluster.endpoint
    assert base64.b64decode(kubeconfig['clusters'][0]['cluster']['certificate-authority-data']) == cluster.k8s_ca.crt_pem
    cert = x509.load_pem_x509_certificate(base64.b64decode(kubeconfig['users'][0]['user']['client-certificate-data']))
    cert.verify_directly_issued_by(cluster.k8s_ca.cert)
    assert [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)] == ['system:masters']
    stranger = cluster.client(sim.address('vps-0'), roles=('os:operator',))
    with pytest.raises(TalosApiError) as refused:
        stranger.kubeconfig()
    assert refused.value.reason == 'permission_denied'


def test_machine_status_and_members(sim, joined):
    assert joined.machine_stage() == 'running'
    names = {m.metadata.id for m in joined.list_resources('cluster', 'Members.cluster.talos.dev')}
    assert {'vps-0', 'vps-1', 'home-cp-0'} <= names
    services = {r.metadata.id for r in joined.list_resources('runtime', 'Services.v1alpha1.talos.dev')}
    assert 'etcd' in services


def test_a_node_powered_off_comes_back_with_its_state(sim, joined, cluster):
    """The node's files are its disk: config, identity and etcd data survive the process."""
    stopped = talos_command(sim.state_dir, 'stop', 'vps-1')
    assert stopped.returncode == 0, stopped.stderr
    assert not listening(sim.address('vps-1'))
    assert talos_command(sim.state_dir, 'status').returncode == 3
    started = talos_command(sim.state_dir, 'up')
    assert started.returncode == 0, started.stderr
    vps1 = cluster.client(sim.address('vps-1'))
    assert vps1.machine_stage() == 'running'
    assert vps1.running_config() == cluster.config('controlplane')
    wait_for(lambda: _etcd_state(vps1) == 'Running', 20, what='etcd running again on vps-1')
    assert sorted(m.hostname for m in joined.etcd_member_list().members) == ['home-cp-0', 'vps-0', 'vps-1']
