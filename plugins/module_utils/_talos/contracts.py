# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talos config contracts: which fields a config may hold, independent of the installed version.

A config rendered for a contract newer than the Talos version a node runs is rejected by that node
("unknown keys found during decoding"), so every render checks the contract against the node.
"""

from __future__ import annotations

import re

from .errors import TalosConfigError

# Contract -> the Talos release whose JSON schema describes it, and the layout it uses.
CONTRACTS = {
    (1, 9): {'schema_tag': 'v1.9.6', 'multidoc_network': False},
    (1, 13): {'schema_tag': 'v1.13.9', 'multidoc_network': True},
}
RSA_SERVICE_ACCOUNT_FROM = (1, 7)  # Talos makes an RSA-4096 service-account key from contract 1.7 on
_VERSION_RE = re.compile(r'^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$')


def parse_version(value, what='Talos version'):
    """(major, minor, patch) of ``v1.9.6``, ``1.9`` or ``v1.13.0-beta.1``."""
    match = _VERSION_RE.match(str(value or '').strip())
    if not match:
        raise TalosConfigError('%s %r is not a version like v1.9.6.' % (what, value), reason='bad_version')
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def known_contracts():
    return ', '.join('v%d.%d' % key for key in sorted(CONTRACTS))


def accepted_contracts(node):
    """Our contracts a node running Talos ``node`` (major, minor, patch) accepts: every one not newer
    than its minor version, as Talos keeps reading older config documents."""
    return sorted(known for known in CONTRACTS if known <= node[:2])


def _accepted_advice(node):
    """Which of our contracts the node accepts, and the one to use."""
    accepted = accepted_contracts(node)
    if not accepted:
        return 'the node accepts none of %s' % known_contracts()
    names = ', '.join(contract_name(key) for key in accepted)
    return 'the node accepts %s (Talos keeps reading older config documents): use contract %s' % (
        names, contract_name(accepted[-1]))


def resolve_contract(contract, talos_version):
    """Pick and check the contract for a node running ``talos_version``.

    Without ``contract`` the newest known contract the node accepts is used. Raises when the contract is unknown
    or newer than the node; the message names the contract to use instead.
    """
    node = parse_version(talos_version) if talos_version else None
    if contract:
        key = parse_version(contract, 'config contract')[:2]
    elif node:
        if not accepted_contracts(node):
            raise TalosConfigError('Talos v%d.%d.%d is older than every contract this collection renders (%s).'
                                   % (node + (known_contracts(),)), reason='unknown_contract')
        key = accepted_contracts(node)[-1]
    else:
        raise TalosConfigError('give talos_version (the version the node runs) or contract.', reason='bad_version')
    if key not in CONTRACTS:
        advice = '; Talos v%d.%d.%d on %s' % (node + (_accepted_advice(node),)) if node else ''
        raise TalosConfigError('config contract v%d.%d is unknown: this collection renders %s%s.'
                               % (key + (known_contracts(), advice)), reason='unknown_contract')
    if node and key > node[:2]:
        raise TalosConfigError('config contract v%d.%d is newer than Talos v%d.%d.%d on the node, which would reject '
                               'the config with "unknown keys found during decoding"; %s.'
                               % (key + node + (_accepted_advice(node),)), reason='contract_too_new')
    return key


def contract_name(key):
    return 'v%d.%d' % key
