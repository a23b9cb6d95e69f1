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
  - Gets the cluster admin kubeconfig with the Talos C(Kubeconfig) call and writes it to O(dest), mode
    0600 in a 0700 folder.
  - Talos signs a new client certificate on every call, so the file is only rewritten when the one on
    disk no longer does the job - another API server, another cluster CA or context, or a client
    certificate that expires within O(renew_before) days - or with O(force=true).
  - The kubeconfig holds an admin credential; it never appears in the result, and C(--diff) shows it
    with every credential redacted.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.talos_api
options:
  dest:
    description: Where to write the kubeconfig.
    type: path
    required: true
  renew_before:
    description: Rewrite the file when its client certificate expires within this many days.
    type: int
    default: 30
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
  action_group:
    description: Use C(group/hybridops.talos.talos) in O(ignore:module_defaults) to set the connection options once.
    support: full
    membership:
      - hybridops.talos.talos
"""

EXAMPLES = r"""
- name: Fetch the admin kubeconfig
  hybridops.talos.talos_kubeconfig:
    endpoint: 192.0.2.1
    talosconfig: "{{ playbook_dir }}/secrets/talosconfig"
    dest: "{{ playbook_dir }}/secrets/kubeconfig"
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
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hybridops.talos.plugins.module_utils._talos import kubeconfig as kc
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.files import read_file, write_private_file
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, client_for, fail
from ansible_collections.hybridops.talos.plugins.module_utils._talos.redact import register_secrets


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            renew_before=dict(type='int', default=30),
            force=dict(type='bool', default=False),
            **CONNECTION_ARGS
        ),
        supports_check_mode=True,
    )
    if not kc.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=kc.CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    dest = params['dest']
    try:
        fresh_text = client_for(params).kubeconfig()
        fresh = kc.parse(fresh_text, 'the kubeconfig from %s' % params['endpoint'])
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
            good, reason = kc.still_good(current, fresh, params['renew_before'])
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
    except (TalosApiError, TalosConfigError) as exc:
        fail(module, exc)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
