# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: seal_secret
short_description: Seal a Secret for the Sealed Secrets controller, in Python without kubeseal
version_added: 0.2.0
description:
  - Builds a C(bitnami.com/v1alpha1) C(SealedSecret) from clear values and the controller's certificate, sealed the
    way the controller unseals it (a session key per value under AES-256-GCM, wrapped with RSA-OAEP SHA-256 whose
    label is the scope) and the way C(kubeseal) writes it. The kubeseal binary is not needed.
  - Sealing gives different bytes every time. To avoid rewriting an unchanged SealedSecret on every run, give
    O(existing) (the SealedSecret read from the cluster) and O(live_secret) (the Secret the controller made from
    it); the existing one is returned as it is when the controller unsealed its current generation into a Secret
    with exactly the wanted values and its name, namespace, scope, type, labels, annotations and keys are the
    wanted ones (docs/decisions/0010-sealing-without-churn.md).
  - Errors name the key or the option, never a value.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description:
      - The clear values, a dictionary of Secret key and string; or a whole C(v1) C(Secret) dictionary (with
        C(apiVersion) V(v1) and C(kind) V(Secret)) whose C(data) (base64) and C(stringData) are sealed and whose
        name, namespace, type, labels and annotations are the defaults of the options below.
    type: dict
    required: true
  name:
    description: The name of the SealedSecret and of the Secret it becomes.
    type: str
  namespace:
    description: The namespace of the Secret; required by the V(strict) and V(namespace-wide) scopes.
    type: str
  scope:
    description:
      - V(strict) binds the values to this name and namespace, V(namespace-wide) to the namespace (the Secret may be
        renamed), V(cluster-wide) to nothing.
    type: str
    choices: [strict, namespace-wide, cluster-wide]
    default: strict
  certificate:
    description: The controller's certificate in PEM, as C(kubeseal --fetch-cert) prints it.
    type: str
    required: true
  type:
    description: The type of the Secret.
    type: str
    default: Opaque
  labels:
    description: Labels of the Secret.
    type: dict
  annotations:
    description: Annotations of the Secret.
    type: dict
  existing:
    description: The SealedSecret as read from the cluster, with its C(status), to keep when nothing changed.
    type: dict
  live_secret:
    description: The Secret the controller unsealed from O(existing), as read from the cluster.
    type: dict
"""

EXAMPLES = r"""
- name: Write a SealedSecret that is safe to commit to Git
  ansible.builtin.copy:
    dest: "{{ gitops_dir }}/apps/grafana/admin.sealed.yaml"
    content: "{{ _sealed | to_nice_yaml }}"
    mode: "0644"
  vars:
    _sealed: >-
      {{ {'admin-password': grafana_admin_password} | hybridops.talos.seal_secret(
           name='grafana-admin', namespace='monitoring', certificate=lookup('ansible.builtin.file', 'cert.pem')) }}
"""

RETURN = r"""
_value:
  description: The C(SealedSecret), or O(existing) without its status and server fields when it is kept.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets as sealing


def _is_secret(value):
    return isinstance(value, dict) and value.get('apiVersion') == 'v1' and value.get('kind') == 'Secret'


def seal_secret(values, name=None, namespace=None, scope='strict', certificate=None, type=None, labels=None,
                annotations=None, existing=None, live_secret=None):
    try:
        if not isinstance(values, dict):
            raise sealing.SealError('bad_input', 'The input is of type %s, not a dictionary of values or a Secret.' % values.__class__.__name__)
        parts = sealing.from_secret(values) if _is_secret(values) else dict(values=sealing.plain_values(values))
        name = name or parts.get('name')
        namespace = namespace or parts.get('namespace')
        sealing.check_target(scope, name, namespace)
        if certificate is None:
            raise sealing.SealError('missing_certificate', 'Give certificate, the controller\'s certificate in PEM.', option='certificate')
        key = sealing.load_certificate(certificate)
        obj = sealing.sealed_secret(key, parts['values'], name, namespace, scope, type or parts.get('type') or 'Opaque',
                                    labels if labels is not None else parts.get('labels'),
                                    annotations if annotations is not None else parts.get('annotations'), parts.get('immutable'))
        keep, dummy = sealing.keep_decision(existing, {'object': obj, 'values': parts['values']}, live_secret)
        return sealing.without_server_fields(existing) if keep else obj
    except sealing.SealError as error:
        # from None: the chained exception would carry the arguments' values into a traceback.
        raise AnsibleFilterError('seal_secret: %s' % error.message) from None


class FilterModule:
    def filters(self):
        return {'seal_secret': seal_secret}
