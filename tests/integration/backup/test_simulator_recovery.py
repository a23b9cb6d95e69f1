"""The simulator's Reset and EtcdRecover beyond the drill, on the restored cluster: input errors, roles,
forwarding of the upload, a graceful reset of a control plane, and a worker's STATE wipe."""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import os
import time

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import TalosClient
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._retry import NO_RETRY

pytestmark = pytest.mark.lab


def client(lab, node, name='talosconfig', via=None):
    return TalosClient.from_talosconfig(lab.address(via or node), os.path.join(lab.secrets_dir, name), node=lab.address(node),
                                        retry=NO_RETRY)


def etcd_state(lab, node):
    return next(s.state for s in client(lab, node).service_list() if s.id == 'etcd')


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except TalosApiError as exc:  # the node is rebooting
            last = exc
        time.sleep(0.3)
    raise AssertionError('%s not reached within %d s (last: %s)' % (what, timeout, last))


@pytest.mark.parametrize('kwargs, message', [
    (dict(wipe_labels=['BOOT']), 'failed to get volume status with label "BOOT"'),
    (dict(wipe_labels=['EPHEMERAL'], mode='user_disks'), "wipe mode USER_DISKS doesn't support SystemPartitionsToWipe"),
])
def test_reset_refuses_bad_input_and_wipes_nothing(converged, kwargs, message):
    node = converged.controlplanes[1]
    with pytest.raises(TalosApiError) as refused:
        client(converged, node).reset(**kwargs)
    assert refused.value.status == 'UNKNOWN' and message in refused.value.why
    assert etcd_state(converged, node) == 'Running'


def test_reset_and_recover_need_os_admin(converged):
    node = converged.controlplanes[1]
    for call in (lambda c: c.reset(wipe_labels=['EPHEMERAL']), lambda c: c.etcd_recover([b'x'])):
        with pytest.raises(TalosApiError) as refused:
            call(client(converged, node, 'backup.talosconfig'))
        assert refused.value.reason == 'permission_denied' and 'needs one of os:admin' in refused.value.why


def test_an_upload_forwarded_by_another_control_plane_arrives_whole(converged):
    target, via = converged.controlplanes[0], converged.controlplanes[2]
    chunks = [bytes([n]) * 100000 for n in range(7)]
    assert client(converged, target, via=via).etcd_recover(iter(chunks)) == 700000
    with open(os.path.join(converged.node_dir(target), 'etcd.snapshot'), 'rb') as handle:
        assert handle.read() == b''.join(chunks)
    # etcd has data on this node, so a recovery bootstrap is refused as Talos refuses it.
    with pytest.raises(TalosApiError) as refused:
        client(converged, target).bootstrap(recover_etcd=True)
    assert refused.value.status == 'ALREADY_EXISTS'


def test_a_graceful_reset_leaves_etcd_and_the_member_joins_again(converged):
    node = converged.controlplanes[1]
    admin = client(converged, converged.controlplanes[0])

    def member_ids():
        """{hostname: member id} of the started members (a member added but not started has no name yet)."""
        return {m.hostname: m.id for m in admin.etcd_member_list().members if m.hostname}

    # A graceful reset leaves etcd only from a running member: start from three running members.
    before = wait_until(lambda: etcd_state(converged, node) == 'Running' and len(member_ids()) == 3 and member_ids(), 90,
                        'three running members')
    # etcd refuses to remove a member until every member has been connected for its health interval (5 s):
    # "unhealthy cluster", and Talos' reset fails. As an operator would, reset again until it goes ahead.
    log = os.path.join(converged.node_dir(node), 'node.log')

    def failed_resets():
        with open(log, encoding='utf-8', errors='replace') as handle:
            return handle.read().count('reset failed: failed to leave etcd cluster')

    def reset_goes_ahead():
        refused = failed_resets()
        client(converged, node).reset(wipe_labels=['EPHEMERAL'], graceful=True, reboot=True)
        # Asked of another member, so the node's own reboot does not hide the answer.
        outcome = wait_until(lambda: 'refused' if failed_resets() > refused else
                             'leaving' if member_ids().get(node) != before[node] or len(member_ids()) < 3 else None,
                             30, 'the reset going ahead or failing')
        return outcome == 'leaving'

    wait_until(reset_goes_ahead, 60, 'a graceful reset that etcd lets go ahead')
    # Back from the reboot with no data, it joins the running members again as a new member: its old member left
    # (a new id under its name), whether or not a poll caught the moment with two members.
    wait_until(lambda: etcd_state(converged, node) == 'Running' and len(member_ids()) == 3
               and member_ids().get(node) not in (None, before[node]), 120, 'the member leaving and joining again')


def test_a_worker_reset_with_state_wiped_comes_back_in_maintenance_mode(converged):
    worker = sorted(n for n, node in converged.nodes.items() if node['role'] == 'worker')[0]
    client(converged, worker).reset(wipe_labels=['STATE', 'EPHEMERAL'], graceful=False, reboot=True)
    insecure = TalosClient(converged.address(worker), insecure=True, retry=NO_RETRY)
    assert wait_until(lambda: insecure.machine_stage() == 'maintenance', 30, 'maintenance mode')
    assert not os.path.exists(os.path.join(converged.node_dir(worker), 'config.yaml'))


def test_a_reset_without_reboot_powers_the_node_off(converged):
    worker = sorted(n for n, node in converged.nodes.items() if node['role'] == 'worker')[1]
    client(converged, worker).reset(wipe_labels=['EPHEMERAL'], graceful=False, reboot=False)
    wait_until(lambda: worker in converged.talos('status').stdout and 'stopped' in next(
        line for line in converged.talos('status').stdout.splitlines() if worker in line), 30, 'the node powered off')
    assert converged.talos('up').returncode == 0  # powered on again, with its config
    assert wait_until(lambda: client(converged, worker).machine_stage() == 'running', 30, 'the node running again')
