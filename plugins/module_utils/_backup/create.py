# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One backup run: plan the items, stream them into a new set, check the remote, write the manifest."""

from __future__ import annotations

import time

from . import collect
from . import manifest as manifests
from .errors import BackupError
from .sets import SetWriter
from .stream import check_recipients


def plan(params, client_for_node, warn):
    """(items, left out, etcd facts, versions): what a run uploads, decided before anything is written."""
    control_planes = params['nodes']
    member = collect.choose_member(client_for_node, control_planes, warn)
    items = [collect.etcd_item(client_for_node, member),
             collect._file_item('talos/secrets.yaml', 'talos_secrets', 'the Talos secrets bundle', params['secrets'])]
    left_out = []
    if params['admin_talosconfig']:
        items.append(collect._file_item('talos/talosconfig', 'talosconfig', 'the admin talosconfig', params['admin_talosconfig']))
    else:
        left_out.append(dict(name='talos/talosconfig', reason='no admin_talosconfig given'))
    configs = collect.machine_config_items(params['machine_configs'], client_for_node, params['running_configs'])
    items += configs
    if not configs:
        left_out.append(dict(name='machineconfig', reason='neither machine_configs nor running_configs given (the configs '
                                                          'render again from the secrets bundle and the inventory)'))
    for name, (item, reason) in (('sealed-secrets/keys.json', collect.sealed_secrets_item(params, warn)),
                                 ('vault/raft.snap', collect.vault_item(params))):
        if item:
            items.append(item)
        else:
            left_out.append(dict(name=name, reason=reason))
    items += collect.terraform_items(params['terraform_states'])
    versions = collect.talos_versions(client_for_node, control_planes, params['talos_version'])
    versions.update(kubernetes=params['kubernetes_version'] or 'unknown', kubernetes_source='configured')
    etcd = dict((key, member[key]) for key in ('snapshot_from', 'snapshot_member', 'leader', 'leader_name', 'members', 'unanswered'))
    return items, left_out, etcd, versions


def run(params, client_for_node, check_mode, warn):
    started = time.monotonic()
    recipients = check_recipients(params['age_recipients'])
    remote = params['remote_object']
    items, left_out, etcd, versions = plan(params, client_for_node, warn)
    writer = SetWriter(remote, recipients)
    result = dict(changed=True, set_id=writer.set_id, set_path=writer.path, left_out=left_out, etcd=etcd, versions=versions)
    if check_mode:
        would = [dict(name=i['name'], kind=i['kind'], source=i['source'], size=i['size'],
                      object=remote.path('<set id>', manifests.object_name(i['name']))) for i in items]
        result.update(set_id=None, set_path=remote.path('<set id>'), would_upload=would)
        return result
    try:
        for item in items:
            writer.add(item['name'], item['kind'], item['what'], item['feed'])
        fingerprint = next((i['checks'].get('cluster_fingerprint') for i in writer.items
                            if i['kind'] == 'talos_secrets' and i['checks'].get('cluster_fingerprint')), None)
        fingerprint = fingerprint or next((i['checks'].get('cluster_fingerprint') for i in writer.items
                                           if i['kind'] == 'machine_config' and i['checks'].get('cluster_fingerprint')), None)
        if not fingerprint:
            raise BackupError('bad_input', 'the set would not say which cluster it belongs to: the secrets bundle is '
                              'age-encrypted and no machine config was included to read the cluster id from.')
        verified = writer.verify_remote()
        manifest = manifests.build(writer.set_id, remote.cluster, fingerprint, recipients, writer.items, left_out,
                                   etcd=etcd, versions=versions, verified=verified)
        writer.publish(manifest)
    except BaseException as exc:
        removed = writer.discard()
        if isinstance(exc, BackupError):
            exc.details.update(set_id=writer.set_id, removed=removed)
        raise
    result.update(manifest=manifest, verified=verified, duration=round(time.monotonic() - started, 2),
                  items=[dict((k, i[k]) for k in ('name', 'kind', 'size', 'sha256', 'encrypted_size')) for i in writer.items])
    return result
