#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_kubeconfig
short_description: Fetch the admin kubeconfig from a Talos control plane into a private file
version_added: 0.1.0
description:
  - Gets the cluster admin kubeconfig from the control plane O(node) with the Talos C(Kubeconfig) call and
    writes it to O(dest), mode 0600 in a 0700 folder.
  - Talos signs a new client certificate on every call, so the file is only rewritten when the one on
    disk no longer does the job - another API server, another cluster CA or context, or a client
    certificate that expires within O(renew_before_hours) hours - or with O(force=true).
  - The kubeconfig holds an admin credential; it never appears in the result, and C(--diff) shows it
    with every credential redacted.
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - grpclib
  - protobuf
  - cryptography
  - PyYAML
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.node
  - hybridops.talos.talos_api.action_group
options:
  dest:
    description: Where to write the kubeconfig.
    type: path
    required: true
  renew_before_hours:
    description: Rewrite the file when its client certificate expires within this many hours (720 is 30 days).
    type: int
    default: 720
  force:
    description: Rewrite the file even when the one on disk still does the job.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Fetches and compares, and reports whether it would write, without writing.
  diff_mode:
    support: full
    description: The kubeconfig before and after, with every credential shown as C(<redacted>).
  idempotent:
    support: full
    description: The file is only rewritten when it no longer does the job.
"""

EXAMPLES = r"""
- name: Fetch the admin kubeconfig
  hybridops.talos.talos_kubeconfig:
    node: 192.0.2.1
    talosconfig: ~/.local/share/hybridops-talos/hybrid/talosconfig
    dest: ~/.local/share/hybridops-talos/hybrid/kubeconfig
"""

RETURN = r"""
dest:
  description: The kubeconfig file.
  returned: success
  type: str
server:
  description: The Kubernetes API server the kubeconfig points at.
  returned: success
  type: str
  sample: https://192.0.2.1:6443
context:
  description: The kubeconfig's current context.
  returned: success
  type: str
expires:
  description: When the client certificate in O(dest) expires (ISO 8601, UTC).
  returned: success
  type: str
reason:
  description: Why the file was (or would be) written; empty when it was left as it is.
  returned: success
  type: str
failure:
  description: The structured cause of a failure (C(reason), C(node), C(call), C(status), C(message), details).
  returned: failed
  type: dict
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError, run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._talos import kubeconfig as kc
from ansible_collections.hybridops.talos.plugins.module_utils._talos.files import read_file, write_private_file
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, NODE_ARGS, Connection
from ansible_collections.hybridops.talos.plugins.module_utils._talos.redact import register_secrets


def fetch(module):
    params = module.params
    dest = params['dest']
    if params['renew_before_hours'] < 0:
        raise ModuleError('bad_input', 'renew_before_hours must not be negative, got %d' % params['renew_before_hours'],
                          option='renew_before_hours')
    with Connection(params) as connection:
        fresh_text = connection.client(params['node']).kubeconfig()
    fresh = kc.parse(fresh_text, 'the kubeconfig from %s' % params['node'])
    register_secrets(module, kc.secret_values(fresh['data']))
    current = None
    if os.path.exists(dest):
        current = kc.parse(read_file(dest, 'kubeconfig'), 'the kubeconfig %s' % dest)
        register_secrets(module, kc.secret_values(current['data']))
    if current is None:
        reason = 'no kubeconfig at %s' % dest
    elif params['force']:
        reason = 'force=true'
    else:
        good, reason = kc.still_good(current, fresh, datetime.timedelta(hours=params['renew_before_hours']))
        reason = '' if good else reason
    kept = current if not reason else fresh
    result = dict(changed=bool(reason), dest=dest, server=kept['server'], context=kept['context'], reason=reason,
                  expires=kc.not_after(kc.certificate(kept['cert'])).isoformat() if kc.certificate(kept['cert']) else '')
    if reason and module._diff:
        result['diff'] = dict(before=kc.redacted_text(current['data']) if current else '',
                              after=kc.redacted_text(fresh['data']),
                              before_header=dest if current else '%s (absent)' % dest, after_header=dest)
    if reason and not module.check_mode:
        write_private_file(dest, fresh_text, 'the kubeconfig')
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            renew_before_hours=dict(type='int', default=720),
            force=dict(type='bool', default=False),
            **dict(CONNECTION_ARGS, **NODE_ARGS)
        ),
        supports_check_mode=True,
    )
    requires(module, *TALOS_API)
    run(module, fetch)


if __name__ == '__main__':
    main()
