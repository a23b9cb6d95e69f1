"""CSI node plugins in the lab (container hooks, hooks.py): what the drivers of charts.py do on a node.

A node plugin registers with the kubelet through its registrar: the kubelet then lists the driver in the node's
``CSINode`` (with the topology keys the driver reports) and sets those keys as labels on the Node. Here the driver's
container does both itself while it runs, with the kubelet's credentials, and takes its driver out of ``CSINode``
when its pod goes. What each driver needs from its node decides whether it starts at all:

* **Hetzner** (``hcloud-csi-driver-node``): the server ID from Hetzner's metadata service. The lab counts a node as a
  Hetzner server when it carries ``instance.hetzner.cloud/provided-by=cloud`` (the label the design's nodes take from
  their machine config); anywhere else the container exits 1 with the driver's own message, so the pod goes into
  CrashLoopBackOff as on a Proxmox VM. Its topology key ``csi.hetzner.cloud/location`` is the node's
  ``topology.kubernetes.io/region`` (the server's location, as the metadata service would say).
* **Proxmox** (``proxmox-csi-node``): the node's ``topology.kubernetes.io/region`` and ``zone`` labels; without them it
  exits 1. It reports both as its topology keys.

The controllers (``hcloud-csi-driver-controller``, ``proxmox-csi-controller``) provision: they create the volumes of
their classes' claims at the Hetzner and Proxmox stand-ins and write the PersistentVolumes (provisioner.py). Nothing is
attached or mounted: a pod whose claim is bound runs on a node its volume allows, with nothing behind the mount.
"""
import asyncio

from . import charts, hooks, provisioner
from .client import ApiStatus, Client

HETZNER_LABEL = 'instance.hetzner.cloud/provided-by'
REGION, ZONE = 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone'
HCLOUD_TOPOLOGY = 'csi.hetzner.cloud/location'


async def _node(ctx):
    return await ctx.client.request('GET', Client.path('v1', 'nodes', name=ctx.node_name))


async def _csinode(ctx):
    try:
        return await ctx.client.request('GET', Client.path('storage.k8s.io/v1', 'csinodes', name=ctx.node_name))
    except ApiStatus as exc:
        if exc.code != 404:
            raise
        return None


async def _set_drivers(ctx, update):
    """Read-modify-write of this node's CSINode drivers (created on first use, owned by the Node as the kubelet does)."""
    for _attempt in range(5):
        current = await _csinode(ctx)
        try:
            if current is None:
                node = await _node(ctx)
                body = {'apiVersion': 'storage.k8s.io/v1', 'kind': 'CSINode',
                        'metadata': {'name': ctx.node_name, 'ownerReferences': [
                            {'apiVersion': 'v1', 'kind': 'Node', 'name': ctx.node_name, 'uid': node['metadata']['uid']}]},
                        'spec': {'drivers': update([])}}
                await ctx.client.request('POST', Client.path('storage.k8s.io/v1', 'csinodes'), body)
            else:
                current['spec']['drivers'] = update(list(current['spec'].get('drivers') or []))
                await ctx.client.request('PUT', Client.path('storage.k8s.io/v1', 'csinodes', name=ctx.node_name), current)
            return
        except ApiStatus as exc:
            if exc.code not in (409,):
                raise
    raise RuntimeError('CSINode %s kept changing under the registration' % ctx.node_name)


async def _serve(ctx, driver, node_id, topology):
    """Register ``driver`` on this node, run until the pod goes, then take it out again."""
    keys = sorted(topology)
    if topology:
        await ctx.client.request('PATCH', Client.path('v1', 'nodes', name=ctx.node_name), {'metadata': {'labels': topology}},
                                 'application/merge-patch+json')
    entry = {'name': driver, 'nodeID': node_id, 'topologyKeys': keys}
    await _set_drivers(ctx, lambda drivers: [d for d in drivers if d.get('name') != driver] + [entry])
    ctx.ready = True
    ctx.write('registered %s on %s (topology %s)' % (driver, ctx.node_name, ', '.join('%s=%s' % kv for kv in sorted(topology.items()))))
    try:
        await asyncio.Event().wait()
    finally:
        try:
            await asyncio.shield(_set_drivers(ctx, lambda drivers: [d for d in drivers if d.get('name') != driver]))
        except Exception:  # pylint: disable=broad-except
            # the node may be going away with its pod
            pass
    return 0


async def hcloud_driver(ctx):
    command = ' '.join(ctx.container.get('command') or ())
    ctx.ready = 'controller' in command  # the node plugin is ready once registered; the controller at once
    if 'controller' in command:
        ctx.write('level=info component=driver msg="controller service started"')
        return await provisioner.run(ctx, provisioner.Hetzner)
    labels = (await _node(ctx))['metadata'].get('labels') or {}
    if labels.get(HETZNER_LABEL) != 'cloud':
        ctx.write('level=error component=driver msg="failed to fetch server ID from metadata service" '
                  'err="Get \\"http://169.254.169.254/hetzner/v1/metadata/instance-id\\": dial tcp 169.254.169.254:80: '
                  'connect: network is unreachable"')
        return 1
    return await _serve(ctx, charts.HCLOUD_DRIVER, ctx.node_name, {HCLOUD_TOPOLOGY: labels.get(REGION, '')})


async def proxmox_node(ctx):
    labels = (await _node(ctx))['metadata'].get('labels') or {}
    missing = [key for key in (REGION, ZONE) if not labels.get(key)]
    if missing:
        ctx.write('E1204 node.go:72] failed to get node topology: node %s has no label %s' % (ctx.node_name, ' and '.join(missing)))
        return 1
    return await _serve(ctx, charts.PROXMOX_DRIVER, ctx.node_name, {REGION: labels[REGION], ZONE: labels[ZONE]})


async def proxmox_controller(ctx):
    ctx.write('I1204 main.go:120] proxmox-csi controller started')
    return await provisioner.run(ctx, provisioner.Proxmox)


# Unready from the start: the kubelet reports a container before its hook has run a line.
hcloud_driver.starts_unready = True
proxmox_node.starts_unready = True
hooks.register_container(charts.HCLOUD_IMAGE, hcloud_driver)
hooks.register_container(charts.PROXMOX_NODE_IMAGE, proxmox_node)
hooks.register_container(charts.PROXMOX_CONTROLLER_IMAGE, proxmox_controller)
