# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Optional Python libraries, handled one way: a module names what it needs and :func:`requires` checks.

The code that uses a library imports it guarded (so that every module imports without it, as
``ansible-test sanity`` demands); whether it is there is decided here only, by importing it, and a
module without it fails with Ansible's own ``missing_required_lib`` message before doing anything.
"""

from __future__ import annotations

import importlib
import traceback

from ansible.module_utils.basic import missing_required_lib

from ._errors import ModuleError, fail

# The name a user installs (as in the modules' ``requirements``) -> the module to import.
IMPORTS = {
    'grpclib': 'grpclib.client',
    'protobuf': 'google.protobuf.descriptor_pool',
    'cryptography': 'cryptography.x509',
    'jsonschema': 'jsonschema',
    'PyYAML': 'yaml',
    'kubernetes': 'kubernetes.config',
    'hcloud': 'hcloud',
    'proxmoxer': 'proxmoxer',
    'requests': 'requests',
}
# What a Talos API client needs: gRPC over HTTP/2, the messages, and the talosconfig's certificates.
TALOS_API = ('grpclib', 'protobuf', 'cryptography', 'PyYAML')
# What a Kubernetes API client needs: the kubernetes client reads the kubeconfig; objects are YAML.
KUBE_API = ('kubernetes', 'PyYAML')
# What a Proxmox VE API client needs: proxmoxer over requests (as community.proxmox).
PVE_API = ('proxmoxer', 'requests')

_SEEN = {}


def import_error(name):
    """The traceback of importing library ``name``, or None when it imports."""
    if name not in _SEEN:
        try:
            importlib.import_module(IMPORTS[name])
        except ImportError:
            _SEEN[name] = traceback.format_exc()
        else:
            _SEEN[name] = None
    return _SEEN[name]


def missing(*names):
    """The libraries among ``names`` that do not import, in the order given."""
    return [name for name in names if import_error(name) is not None]


def check(*names, reason=None):
    """Raise ModuleError(missing_library) with Ansible's message for the first library that does not import."""
    for name in missing(*names):
        error = ModuleError('missing_library', missing_required_lib(name, reason=reason), library=name)
        error.trace = import_error(name)
        raise error


def requires(module, *names, reason=None):
    """Fail ``module`` with Ansible's missing_required_lib message unless every library in ``names`` imports."""
    try:
        check(*names, reason=reason)
    except ModuleError as error:
        fail(module, error)
