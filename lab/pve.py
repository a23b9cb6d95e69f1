"""Serve the Proxmox VE stand-in (fakepve) with the lab's seed: ``python -m lab.pve CONFIG.json``.

Two nodes (``pve1``, ``pve2``) in cluster ``lab`` (``/cluster/status`` says so), a ZFS pool storage ``local-zfs``
(type ``zfspool``) beside fakepve's ``local`` (dir) and ``local-lvm`` (lvmthin), a Talos template
VM per node (tag ``talos-template``), the seed VMs ``home-cp-0``, ``home-w-0``, ``home-w-1`` with static
cloud-init addresses, ``extra`` scale VMs ``lab-pve-NNN``, and two API tokens: ``root@pam!<id>`` with
every privilege and ``<auditor>!<id>`` holding the built-in ``PVEAuditor`` role on ``/``. Started empty
(``python -m lab up --empty``) it has the nodes, storage, templates and tokens, and no VM to run.
With ``"standalone": true`` it is one node, ``pve1``, that never joined a cluster, as ``/cluster/status``
then says (its node entry alone). Roles, users, ACL entries and tokens are stored (lab/pve_access.py): the
seed's users and tokens are listed, and a token created through the API authenticates.
The guest agent is enabled in the configs but does not answer, as in Talos maintenance mode.
"""
import asyncio
import json
import sys

NODES = ('pve1', 'pve2')
STORAGE = 'local-zfs'
TEMPLATES = ((9000, 'talos-template', 'pve1'), (9001, 'talos-template-pve2', 'pve2'))
SEED_VMS = (
    # vmid, name, node, tag, address, memory MiB, cores
    (101, 'home-cp-0', 'pve1', 'talos-controlplane', '10.10.0.10', 4096, 2),
    (102, 'home-w-0', 'pve1', 'talos-worker', '10.10.0.20', 8192, 4),
    (103, 'home-w-1', 'pve2', 'talos-worker', '10.10.0.21', 8192, 4),
)
EXTRA_VMID = 1000


def _mac(vmid):
    return 'BC:24:11:%02X:%02X:%02X' % (vmid >> 16 & 255, vmid >> 8 & 255, vmid & 255)


def vm_config(vmid, name, tags, memory, cores, disk_gb, ipconfig=None, template=False):
    """A Talos VM as PVE stores it: virtio-scsi disk on ZFS, cloud-init drive, agent on, serial console."""
    prefix = 'base' if template else 'vm'
    config = {
        'name': name, 'tags': tags, 'memory': str(memory), 'cores': str(cores), 'sockets': '1', 'cpu': 'host',
        'ostype': 'l26', 'scsihw': 'virtio-scsi-single', 'agent': '1', 'boot': 'order=scsi0',
        'scsi0': '%s:%s-%d-disk-0,iothread=1,size=%dG' % (STORAGE, prefix, vmid, disk_gb),
        'ide2': '%s:%s-%d-cloudinit,media=cdrom' % (STORAGE, prefix, vmid),
        'net0': 'virtio=%s,bridge=vmbr0' % _mac(vmid), 'serial0': 'socket', 'vga': 'serial0',
        'onboot': '1',
    }
    if ipconfig:
        config['ipconfig0'] = ipconfig
        config['nameserver'] = '10.10.0.1'
    return config


def seed(pve, tokens, auditor, extra=0, empty=False, standalone=False):
    from fakepve.shapes import ROLES
    pve.cluster_name = 'lab'
    pve.clustered = not standalone
    nodes = NODES[:1] if standalone else NODES
    # fakepve starts with a pve1 entry: a standalone PVE has exactly the one node.
    for node in list(pve.nodes):
        if node not in nodes:
            del pve.nodes[node]
    for node in nodes:
        pve.add_node(node)
    pve.storages[STORAGE] = {'type': 'zfspool', 'pool': 'rpool/data', 'sparse': 1, 'content': 'images,rootdir',
                             'active': 1, 'files': set(), 'volumes': {}}
    for vmid, name, node in (t for t in TEMPLATES if t[2] in nodes):
        pve.add_vm(vmid, name, node=node, status='stopped', template=True,
                   config=vm_config(vmid, name, 'talos-template', 2048, 2, 10, template=True))
    for vmid, name, node, tag, address, memory, cores in () if empty else (v for v in SEED_VMS if v[2] in nodes):
        pve.add_vm(vmid, name, node=node, status='running',
                   config=vm_config(vmid, name, tag, memory, cores, 32, 'ip=%s/24,gw=10.10.0.1' % address))
    for index in range(1, 0 if empty else extra + 1):
        vmid = EXTRA_VMID + index
        address = '10.11.%d.%d' % (index // 250, index % 250 + 2)
        pve.add_vm(vmid, 'lab-pve-%03d' % index, node=nodes[index % len(nodes)], status='running',
                   config=vm_config(vmid, 'lab-pve-%03d' % index, 'talos-worker', 2048, 2, 20,
                                    'ip=%s/16,gw=10.11.0.1' % address))
    pve.apitokens.update(tokens)
    # PVE checks a privilege-separated token against its own ACL entries (and its user's): grant both.
    for who in (auditor, next(t for t in tokens if t.startswith(auditor + '!'))):
        pve.grant(who, '/', *ROLES['PVEAuditor'])
    pve.seed_access(tokens, auditor)


async def serve(config):
    from lab.pve_resize import LabPve
    pve = LabPve(user='root@pam', password=config['password'], host=config['host'], port=config['port'])
    pve.time_scale = config.get('time_scale', 0.0)
    seed(pve, config['tokens'], config['auditor'], config.get('vms', 0), config.get('empty', False),
         config.get('standalone', False))
    await pve.start(config['cert'], config['key'], config.get('listen'))
    print('pve stand-in listening on %s' % pve.url, flush=True)
    await asyncio.Event().wait()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m lab.pve CONFIG.json')
    with open(argv[0], encoding='utf-8') as handle:
        config = json.load(handle)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
