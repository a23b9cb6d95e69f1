"""The simulator's MachineService.Upgrade, driven with the collection's client: the ack, the reboot into the new
version, a second request refused while the first runs, an image the lab cannot run, and the rollback fault."""
import time

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError

from upgrade_support import START

pytestmark = pytest.mark.lab

NODE = 'home-w-0'  # the worker: upgrading it here leaves etcd alone


@pytest.fixture
def client(upgrade_lab):
    with upgrade_lab.client(NODE) as admin:
        yield admin


def _back_at(lab, name, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return lab.version(name)
        except TalosApiError:
            time.sleep(0.2)
    raise AssertionError('%s did not come back within %s s' % (name, timeout))


def test_an_image_of_another_minor_line_is_refused_without_a_reboot(upgrade_lab, client):
    with pytest.raises(TalosApiError) as caught:
        client.upgrade('ghcr.io/siderolabs/installer:v1.10.0')
    assert caught.value.status == 'UNKNOWN' and 'v1.10.0' in caught.value.why
    with pytest.raises(TalosApiError) as caught:
        client.upgrade('docker.io/library/busybox:v1.9.7')
    assert caught.value.status == 'UNKNOWN'
    assert upgrade_lab.version(NODE) == START


def test_a_rollback_fault_brings_the_node_back_at_the_old_version_once(upgrade_lab, client):
    proc = upgrade_lab.fault('upgrade-rollback', NODE)
    assert proc.returncode == 0, proc.stderr
    reply = client.upgrade('ghcr.io/siderolabs/installer:v1.9.5')
    assert reply.ack == 'Upgrade request received' and len(reply.actor_id) == 36
    # A second request before the first has rebooted is refused.
    with pytest.raises(TalosApiError) as caught:
        client.upgrade('ghcr.io/siderolabs/installer:v1.9.5')
    assert caught.value.status == 'FAILED_PRECONDITION'
    time.sleep(0.5)  # the node is down now
    assert _back_at(upgrade_lab, NODE) == START
    # The fault went with that upgrade: a factory image with a digest now installs.
    image = ('factory.talos.dev/installer/%s:v1.9.5@sha256:%s' % ('a' * 64, 'b' * 64))
    client.upgrade(image)
    time.sleep(0.5)
    assert _back_at(upgrade_lab, NODE) == 'v1.9.5'
    client.upgrade('ghcr.io/siderolabs/installer:%s' % START)  # back to where the other tests start
    time.sleep(0.5)
    assert _back_at(upgrade_lab, NODE) == START
