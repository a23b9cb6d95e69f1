"""apid's request forwarding: a call to one control plane with ``node`` metadata is answered by that node."""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError

from sim_support import configure

pytestmark = pytest.mark.lab

MEMBERS = ('cluster', 'Members.cluster.talos.dev')


def test_a_control_plane_forwards_a_call_to_the_node_named(sim, cluster, joined):
    worker = configure(sim, cluster, 'home-w-0', 'worker')
    through = cluster.client(sim.address('vps-0'), node=sim.address('home-w-0'))
    # The worker answers: its own machine status and etcd absence, not vps-0's.
    assert through.machine_stage() == worker.machine_stage() == 'running'
    with pytest.raises(TalosApiError) as refused:
        through.etcd_member_list()
    assert refused.value.reason == 'not_control_plane' and refused.value.node == sim.address('home-w-0')
    assert through.list_resources(*MEMBERS)
    # A node name works as well as an address, as with talosctl -n.
    by_name = cluster.client(sim.address('vps-0'), node='home-cp-0')
    assert sorted(m.hostname for m in by_name.etcd_member_list().members) == ['home-cp-0', 'vps-0', 'vps-1']


def test_the_callers_roles_travel_with_the_call(sim, cluster, joined):
    reader = cluster.client(sim.address('vps-0'), roles=('os:reader',), node=sim.address('vps-1'))
    assert reader.list_resources(*MEMBERS)
    with pytest.raises(TalosApiError) as refused:
        reader.bootstrap()
    assert refused.value.reason == 'permission_denied'
    with pytest.raises(TalosApiError) as sensitive:
        reader.list_resources('config', 'MachineConfigs.config.talos.dev')
    assert sensitive.value.reason == 'permission_denied'


def test_a_worker_does_not_forward_and_an_absent_node_is_unavailable(sim, cluster, joined):
    configure(sim, cluster, 'home-w-0', 'worker')
    via_worker = cluster.client(sim.address('home-w-0'), node=sim.address('vps-0'))
    with pytest.raises(TalosApiError) as refused:
        via_worker.machine_stage()
    assert refused.value.status == 'PERMISSION_DENIED' and 'no request forwarding' in refused.value.why
    # Nothing listens on vps-0's loopback: the dial fails at once, and the error says where it went.
    nowhere = cluster.client(sim.address('vps-0'), node='127.0.0.1')
    with pytest.raises(TalosApiError) as gone:
        nowhere.machine_stage()
    assert gone.value.status == 'UNAVAILABLE' and 'dial tcp 127.0.0.1:50000' in gone.value.why
