# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MTU budget of the overlay stack: underlay, KubeSpan (WireGuard), Cilium VXLAN.

WireGuard costs 80 bytes (IPv6 outer header + UDP + WireGuard header and tag), VXLAN 50. A layer set
larger than the one below fragments silently; smaller works but wastes bytes on every packet.
"""

from __future__ import annotations

KUBESPAN_OVERHEAD = 80
VXLAN_OVERHEAD = 50


def _compare(layer, value, below_name, below, overhead):
    expected = below - overhead
    if value == expected:
        return None
    if value > expected:
        consequence = 'packets of full size do not fit and are fragmented or dropped silently'
    else:
        consequence = 'it works but wastes %d bytes on every packet' % (expected - value)
    return '%s MTU %d does not match %s MTU %d - %d = %d: %s' % (layer, value, below_name, below, overhead, expected,
                                                                 consequence)


def check_mtu(underlay=None, kubespan=None, cilium=None, per_node=None):
    """``(report, problems)`` for the given MTUs; any of them may be unknown (None).

    ``kubespan`` is the KubeSpan MTU the cluster is configured with (default: what the underlay
    allows); ``per_node`` maps node names to the KubeSpan MTU each one is configured with.
    """
    problems = []
    expected_kubespan = underlay - KUBESPAN_OVERHEAD if underlay is not None else None
    if kubespan is not None and underlay is not None:
        problem = _compare('KubeSpan', kubespan, 'underlay', underlay, KUBESPAN_OVERHEAD)
        if problem:
            problems.append(problem)
    effective = kubespan if kubespan is not None else expected_kubespan
    for name, value in sorted((per_node or {}).items()):
        if value is None:
            continue
        if effective is not None and value != effective:
            problems.append('node %s has KubeSpan MTU %d, the cluster %d: every node must use the same MTU, or the larger '
                            'side sends packets the other cannot take' % (name, value, effective))
    if cilium is not None and effective is not None:
        problem = _compare('Cilium VXLAN', cilium, 'KubeSpan', effective, VXLAN_OVERHEAD)
        if problem:
            problems.append(problem)
    report = dict(underlay=underlay, kubespan=effective, expected_kubespan=expected_kubespan,
                  cilium=cilium, expected_cilium=effective - VXLAN_OVERHEAD if effective is not None else None,
                  ok=not problems, problems=problems)
    return report, problems
