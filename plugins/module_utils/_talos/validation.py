# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks Talos makes in its documents' Go ``Validate`` methods that the JSON schema cannot express.

A config that passes the schema can still be refused by the node on apply; these checks refuse it
at render time instead, with Talos' own reason. Reasons quote port ranges and subnets (never
secrets), as Talos does.
"""

from __future__ import annotations

import ipaddress
import re

from .errors import TalosConfigError
from .patch import describe, identity

_PORT = re.compile(r'^[0-9]+$')
_MAX_PORT = 65535


def check_documents(docs):
    """Raise on the first document Talos' own validation refuses."""
    for index, doc in enumerate(docs):
        ident = identity(doc)
        check = _CHECKS.get(ident[:2])
        reason = check(doc) if check else None
        if reason:
            raise TalosConfigError('document %d (%s) is refused by Talos: %s.' % (index + 1, describe(ident), reason),
                                   reason='config_invalid', document=index + 1)


def _port_range(value):
    """(lo, hi) of a port (an integer) or a range ("lo-hi"), as network.PortRange decodes it; None when it cannot."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value) if 0 <= value <= _MAX_PORT else None
    low, dash, high = str(value).partition('-')
    if not dash or not _PORT.match(low) or not _PORT.match(high):
        return None
    low, high = int(low), int(high)
    return (low, high) if low <= _MAX_PORT and high <= _MAX_PORT else None


def port_ranges_reason(ports):
    """Talos' PortRanges.Validate (network/port_range.go, same at v1.9.6 and v1.13.9): sorted by the
    low port, a range must not be reversed, nor start inside the one before it."""
    ranges = []
    for value in ports:
        parsed = _port_range(value)
        if parsed is None:
            return 'invalid port range: "%s"' % value
        ranges.append(parsed)
    ranges.sort(key=lambda pair: pair[0])
    for index, (low, high) in enumerate(ranges):
        if low > high:
            return 'invalid port range: %d-%d' % (low, high)
        if index and low <= ranges[index - 1][1]:
            return 'invalid port range: %d-%d, overlaps with %d-%d' % ((low, high) + ranges[index - 1])
    return None


def _prefix_reason(rule, field):
    value = rule.get(field)
    if value in (None, ''):
        return 'invalid subnet: invalid Prefix' if field == 'subnet' else None
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return 'invalid %s: %s' % (field, value)
    return None


def network_rule_reason(doc):
    """RuleConfigV1Alpha1.Validate (network/rule_config.go, same at v1.9.6 and v1.13.9)."""
    if not doc.get('name'):
        return 'name is required'
    ports = (doc.get('portSelector') or {}).get('ports') or []
    if not ports:
        return 'portSelector.ports is required'
    reason = port_ranges_reason(ports)
    if reason:
        return reason
    for rule in doc.get('ingress') or []:
        reason = _prefix_reason(rule, 'subnet') or _prefix_reason(rule, 'except')
        if reason:
            return reason
    return None


_CHECKS = {('v1alpha1', 'NetworkRuleConfig'): network_rule_reason}
