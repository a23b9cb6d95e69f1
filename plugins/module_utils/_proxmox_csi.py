# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Proxmox CSI plugin (sergelogvinov/proxmox-csi-plugin) needs from PVE, as pure data and checks.

Facts (docs/storage-proxmox.md): the plugin's docs/install.md creates role ``CSI`` with exactly
``VM.Audit VM.Config.Disk Datastore.Allocate Datastore.AllocateSpace Datastore.Audit``, user
``kubernetes-csi@pve``, an ACL on ``/`` and a token without privilege separation; its config is
``clusters[]`` of ``url``, ``insecure``, ``token_id``, ``token_secret``, ``region`` (the PVE cluster name,
which must equal the nodes' ``topology.kubernetes.io/region``); the PVE nodes must be clustered (a single
node may cluster with itself); its README names the storages it places disks on: local (lvm, lvm-thin,
zfs, and directories on xfs/ext4) and shared (ceph RBD, nfs), all holding disk images.

Nothing here ever puts a token secret into a message.
"""

from __future__ import annotations

from ._errors import ModuleError

try:
    import yaml
    HAS_YAML = True
except ImportError:  # requires() names PyYAML before any of this runs
    HAS_YAML = False

PRIVILEGES = ('Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.Audit', 'VM.Audit', 'VM.Config.Disk')
# PVE storage types the plugin creates disks on (README "Overview"; docs/proxmox-{lvm,zfs,rbd,qcow}.yaml).
SUPPORTED_TYPES = ('dir', 'lvm', 'lvmthin', 'nfs', 'rbd', 'zfspool')
CONFIG_KEY = 'config.yaml'


class CsiError(ModuleError):
    """Something the CSI access cannot be built on; the message is the whole sentence."""

    def __init__(self, reason, sentence, **details):
        super().__init__(reason, sentence, sentence=sentence, **details)


def split_privileges(value):
    """A set of privileges from PVE's forms: ``{priv: 1}`` (one role), ``"a,b"`` (the role list) or a list."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {name for name, held in value.items() if held not in (0, '0', False)}
    if isinstance(value, str):
        return {item for item in value.replace(';', ',').replace(' ', ',').split(',') if item}
    return set(value)


def privilege_diff(current, wanted=PRIVILEGES):
    """``{'add': [...], 'remove': [...]}`` that turns ``current`` (None: no role) into exactly ``wanted``."""
    have = set() if current is None else set(current)
    return {'add': sorted(set(wanted) - have), 'remove': sorted(have - set(wanted))}


def check_storages(requested, listing):
    """Refuse, before anything is written, a storage that is missing, of a type the plugin does not place disks on,
    or not holding disk images; ``listing`` is GET /storage."""
    if not requested:
        raise CsiError('bad_input', 'storages is empty: name the PVE storages the StorageClasses will use.', option='storages')
    known = {entry.get('storage'): entry for entry in listing or ()}
    for storage in requested:
        entry = known.get(storage)
        if entry is None:
            raise CsiError('missing_storage', 'PVE storage %s does not exist (storages there: %s), so nothing was written.'
                           % (storage, ', '.join(sorted(k for k in known if k)) or 'none'), storage=storage)
        kind = entry.get('type')
        if kind not in SUPPORTED_TYPES:
            raise CsiError('unsupported_storage', 'PVE storage %s is of type %s, which the Proxmox CSI plugin does not place '
                           'disks on (it takes %s), so nothing was written.' % (storage, kind, ', '.join(SUPPORTED_TYPES)),
                           storage=storage, type=kind)
        content = {c.strip() for c in str(entry.get('content') or '').split(',')}
        if 'images' not in content:
            raise CsiError('unsupported_storage', 'PVE storage %s (%s) does not hold disk images (content %s), so the plugin '
                           'cannot create volumes there and nothing was written.' % (storage, kind, entry.get('content') or 'none'),
                           storage=storage, type=kind)


def cluster_of(status):
    """``(cluster name or None, node names)`` from GET /cluster/status: a node that never joined a cluster has no
    ``cluster`` entry."""
    name = next((entry.get('name') for entry in status or () if entry.get('type') == 'cluster'), None)
    nodes = sorted(entry.get('name') for entry in status or () if entry.get('type') == 'node')
    return name, nodes


def check_clustered(status, region):
    """The region to use: O(region) or the cluster's name; refused for a PVE that is not clustered."""
    name, nodes = cluster_of(status)
    if name is None:
        raise CsiError('not_clustered', 'PVE node %s is not part of a cluster, and the Proxmox CSI plugin needs clustered PVE '
                       'nodes (a single node may cluster with itself - pvecm create <name> - whose name becomes the region), '
                       'so nothing was written.' % ', '.join(nodes or ['?']), nodes=nodes)
    if region and region != name:
        raise CsiError('bad_input', 'region %s is not the name of the PVE cluster (%s): the plugin matches it against the '
                       'cluster it talks to and the nodes\' topology.kubernetes.io/region label, so nothing was written.'
                       % (region, name), option='region', cluster=name)
    return name


def render_config(url, insecure, token_id, token_secret, region):
    """The plugin's ``config.yaml`` (one cluster)."""
    cluster = {'url': url, 'insecure': bool(insecure), 'token_id': token_id, 'token_secret': token_secret, 'region': region}
    return yaml.safe_dump({'clusters': [cluster]}, default_flow_style=False, sort_keys=False)


def read_config(text):
    """The first cluster of a ``config.yaml`` as a dict, or None when the text is no such config."""
    try:
        data = yaml.safe_load(text or '')
    except yaml.YAMLError:
        return None
    clusters = data.get('clusters') if isinstance(data, dict) else None
    if not isinstance(clusters, list) or not clusters or not isinstance(clusters[0], dict):
        return None
    return clusters[0]


def token_verdict(token, stored, token_id):
    """Whether to (re)create the token and why: ``(create, recreate, why)``.

    ``token`` is PVE's view of the token (None: missing); ``stored`` the cluster entry of the Secret's config.yaml
    (None: no Secret or no config). PVE shows a token's secret only when it creates it, so a token whose secret is
    not in the Secret must be made again.
    """
    if token is None:
        return True, False, 'the token does not exist'
    if stored is None:
        return True, True, 'the Secret with its secret is missing, and PVE shows a token secret only when it creates it'
    if stored.get('token_id') != token_id or not stored.get('token_secret'):
        return True, True, ('the Secret holds token %s, not %s, and PVE shows a token secret only when it creates it'
                            % (stored.get('token_id') or 'none', token_id))
    return False, False, None
