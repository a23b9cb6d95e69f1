#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sealed_secrets_cert
short_description: Fetch the Sealed Secrets controller's certificate, check it, return it and optionally write it
version_added: 0.2.0
description:
  - Reads the controller's certificate the way C(kubeseal --fetch-cert) does, with C(GET) on the API server's service
    proxy path C(/api/v1/namespaces/<namespace>/services/http:<controller_name>:<port>/proxy/v1/cert.pem), or from the
    file O(src).
  - Checks that it is a PEM X.509 certificate with an RSA key, within its dates, and returns it. The certificate is
    public; it is what the filter C(hybridops.talos.seal_secret) seals with.
  - With O(dest), writes it to that file (mode C(0644)) when the file does not already hold it.
  - While no controller pod is ready the API server answers 503; with O(wait=true) the module asks again until
    O(wait_timeout), then fails with that answer.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.wait
  - hybridops.talos.kube_api.action_group
options:
  src:
    description:
      - Read the certificate from this file instead of the cluster (for example one that C(kubeseal --fetch-cert) wrote);
        the cluster is not asked.
    type: path
  dest:
    description: Write the certificate to this file (mode C(0644)); left alone when it already holds it.
    type: path
  namespace:
    description: Namespace of the controller's Service.
    type: str
    default: kube-system
  controller_name:
    description: Name of the controller's Service (C(kubeseal --controller-name)).
    type: str
    default: sealed-secrets-controller
  port:
    description: Name or number of the Service's port that serves the certificate (the chart names it V(http)).
    type: str
    default: http
  wait:
    description: Ask again while the API server answers that nothing is ready behind the Service (503).
    type: bool
    default: true
attributes:
  check_mode:
    description: The certificate is fetched and checked; O(dest) is not written.
    support: full
  diff_mode:
    description: The file O(dest) before and after.
    support: full
  idempotent:
    description: O(dest) is rewritten only when it holds something else.
    support: full
seealso:
  - module: hybridops.talos.sealed_secrets_install
"""

EXAMPLES = r"""
- name: Fetch the controller's certificate into the GitOps repository
  hybridops.talos.sealed_secrets_cert:
    kubeconfig: "{{ kubeconfig }}"
    dest: "{{ gitops_dir }}/sealed-secrets/cert.pem"
  register: sealing_cert

- name: Seal a value with it
  ansible.builtin.copy:
    dest: "{{ gitops_dir }}/apps/grafana/admin.sealed.yaml"
    content: "{{ _sealed | to_nice_yaml }}"
    mode: "0644"
  vars:
    _sealed: >-
      {{ {'admin-password': grafana_admin_password} | hybridops.talos.seal_secret(
           name='grafana-admin', namespace='monitoring', certificate=sealing_cert.certificate) }}

- name: Check a certificate kept in Git, without asking the cluster
  hybridops.talos.sealed_secrets_cert:
    src: "{{ gitops_dir }}/sealed-secrets/cert.pem"
"""

RETURN = r"""
changed:
  description: Whether O(dest) was written (in check mode, would be).
  returned: always
  type: bool
certificate:
  description: The controller's certificate, PEM.
  returned: success
  type: str
sha256_fingerprint:
  description: SHA-256 of the certificate's DER bytes, in hex.
  returned: success
  type: str
not_before:
  description: Start of the certificate's validity, UTC.
  returned: success
  type: str
not_after:
  description: End of the certificate's validity, UTC.
  returned: success
  type: str
key_size:
  description: Bits of the certificate's RSA key (the controller makes 4096-bit keys).
  returned: success
  type: int
subject:
  description: The certificate's subject.
  returned: success
  type: str
source:
  description: Where the certificate came from, the service proxy path or O(src).
  returned: success
  type: str
dest:
  description: The file written, when O(dest) was given.
  returned: O(dest) given
  type: str
duration:
  description: Seconds the task took.
  returned: success
  type: float
failure:
  description: The structured cause of a failure.
  returned: failed
  type: dict
"""

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets_controller as ctl
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import ApiError


def argument_spec():
    return dict(
        KUBE_ARGS,
        src=dict(type='path'),
        dest=dict(type='path'),
        namespace=dict(type='str', default='kube-system'),
        controller_name=dict(type='str', default=ctl.CONTROLLER_NAME),
        port=dict(type='str', default='http'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
    )


def read_src(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except OSError as exc:
        raise ctl.ControllerError('missing_file', 'The certificate file %s cannot be read: %s.' % (path, exc.strerror or exc),
                                  option='src', path=path) from None


def fetch(params, sleep=time.sleep):
    """The PEM the service proxy answers; 503 (nothing ready behind the Service) is asked again until wait_timeout."""
    client = KubeClient.from_params(params)
    path = ctl.cert_path(params['namespace'], params['controller_name'], params['port'])
    call = 'Fetching the Sealed Secrets certificate from %s/%s' % (params['namespace'], params['controller_name'])
    deadline = time.monotonic() + (params['wait_timeout'] if params['wait'] else 0)
    delay = 0.5
    while True:
        try:
            return client.get_raw(path, call=call), path
        except ApiError as exc:
            if exc.status != 503 or time.monotonic() >= deadline:
                raise
        sleep(delay)
        delay = min(5.0, delay * 2)


def write(module, dest, text, result):
    """Write ``text`` to ``dest`` (0644) unless it holds it; diff and changed in ``result``."""
    before = None
    if os.path.exists(dest):
        with open(dest, 'r', encoding='utf-8', errors='replace') as handle:
            before = handle.read()
    if module._diff:  # pylint: disable=protected-access
        result['diff'] = dict(before_header=dest, after_header=dest, before=before or '', after=text)
    changed = before != text
    if changed and not module.check_mode:
        directory = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(directory):
            raise ctl.ControllerError('missing_directory', 'The directory %s of dest does not exist, so the certificate was not '
                                      'written.' % directory, option='dest')
        fd, temp = tempfile.mkstemp(dir=directory, prefix='.cert.pem.')
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(temp, 0o644)
        module.atomic_move(temp, dest)
    file_args = module.load_file_common_arguments(dict(path=dest, mode='0644'))
    if os.path.exists(dest):
        changed = module.set_fs_attributes_if_different(file_args, changed)
    result['changed'] = changed
    result['dest'] = dest


def body(module):
    started = time.monotonic()
    params = module.params
    if params['src']:
        raw, source = read_src(params['src']), params['src']
    else:
        raw, source = fetch(params)  # a last 503 fails as api_unavailable, with the API server's words
    facts = ctl.certificate_facts(raw)
    result = dict(changed=False, source=source, **facts)
    if params['dest']:
        write(module, params['dest'], facts['certificate'], result)
    result['duration'] = round(time.monotonic() - started, 2)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, 'cryptography', *KUBE_API)
    run(module, body)


if __name__ == '__main__':
    main()
