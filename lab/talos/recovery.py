"""Reset and etcd recovery of a simulated node: what Talos' disaster-recovery sequence calls.

* ``reset``: after the Reset call has answered, a control plane leaves etcd when the reset is graceful,
  the node leaves the discovery registry (its KubeSpan peers drop it), the node stops, the chosen system
  partitions are wiped, and it reboots (or powers off: the process ends,
  and ``python -m lab up`` powers it on again). EPHEMERAL holds etcd's data and an uploaded recovery
  snapshot, STATE the machine config and the node identity (the node comes back in maintenance mode).
* ``recover``: Bootstrap with ``recover_etcd``; as in Talos, the etcd service restores the snapshot that
  EtcdRecover uploaded (``etcdctl snapshot status``, then ``snapshot restore`` into a one-member cluster
  named after the node) after the call has answered, so a bad snapshot shows as a Failed etcd service.
"""
import asyncio
import json
import logging
import os
import shutil

from . import etcd
from .machine import FAILED_ETCD_BACKOFF, _node_id, _write_private

LOG = logging.getLogger('lab.talos')
PARTITIONS = ('STATE', 'EPHEMERAL', 'META')  # the system volume labels a reset may name
RECOVERY_SNAPSHOT = 'etcd.snapshot'  # Talos' /var/lib/etcd.snapshot, on EPHEMERAL


def snapshot_path(node):
    return node.path(RECOVERY_SNAPSHOT)


def wipe(node, labels):
    if 'EPHEMERAL' in labels:
        shutil.rmtree(node.path('etcd'), ignore_errors=True)
        if os.path.exists(snapshot_path(node)):
            os.remove(snapshot_path(node))
        if node.member is not None:
            node.member.wipe()
    if 'STATE' in labels:
        for name in ('config.yaml', 'staged.yaml', 'identity.json'):
            if os.path.exists(node.path(name)):
                os.remove(node.path(name))
        node.config_bytes = node.staged_bytes = node.docs = None
        node.node_id = _node_id()
        _write_private(node.path('identity.json'), json.dumps({'node_id': node.node_id}))
        node._sync_member()  # pylint: disable=protected-access  # no config: no etcd member
    node.bootstrapped_here = False
    LOG.info('reset: wiped %s', ', '.join(sorted(labels)) or 'nothing')


async def reset(node, labels, graceful, reboot):
    if graceful and node.member is not None and node.member.running():
        try:
            await node.member.leave()
        except etcd.EtcdError as exc:
            LOG.warning('reset failed: failed to leave etcd cluster: %s', exc)
            return
    node.stage = 'resetting'
    node.publish()
    # Talos removes the node's affiliate from the discovery service on reset (siderolabs/talos#6137), late in the
    # sequence, once etcd was left (#8060): the other nodes drop it as a KubeSpan peer instead of keeping a dead one.
    if getattr(node, 'kubespan', None) is not None:
        await asyncio.to_thread(node.kubespan.stop, True)
    if reboot:
        await node.reboot(node.cfg['reboot_seconds'], before=lambda: wipe(node, labels))
        return
    await node.server_control.stop()
    if node.member is not None:
        async with node.etcd_lock:
            await node.member.stop()
    wipe(node, labels)
    node.stage = 'shutting down'
    node.publish()
    node.power_off()


async def recover(node, skip_hash_check):
    async with node.etcd_lock:
        try:
            await node.member.restore(snapshot_path(node), skip_hash_check)
            await node.member.start()
            node.bootstrapped_here = True
        except (etcd.EtcdError, OSError) as exc:
            LOG.warning('etcd recovery failed: %s', exc)
            if node.member.running():
                await node.member.stop()
            node.member.state = 'Failed'
            node.etcd_retry_at = asyncio.get_running_loop().time() + FAILED_ETCD_BACKOFF
    node.publish()
