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


def budget(underlay, nodes=None, cilium=None):
    """The MTU budget of the cluster, per site: underlay -> KubeSpan (-80) -> Cilium's devices -> pods (-50).

    ``underlay`` is the cluster's underlay MTU (the smallest between the sites): every node's KubeSpan MTU is
    ``underlay - 80``. ``nodes`` are ``{name, site, underlay_mtu}`` (``underlay_mtu`` None: the cluster's);
    ``cilium`` is Cilium's ``MTU`` value when set explicitly (default: the KubeSpan MTU, since Cilium's devices
    sit on KubeSpan). Returns the report; ``problems`` say what does not fit, with the numbers.
    """
    kubespan = underlay - KUBESPAN_OVERHEAD
    cilium_mtu = kubespan if cilium is None else cilium
    problems = []
    if cilium_mtu != kubespan:
        problems.append(_compare('Cilium', cilium_mtu, 'KubeSpan', kubespan, 0).replace(' - 0 = %d' % kubespan, ''))
    sites = {}
    for node in nodes or ():
        site = node.get('site') or ''
        mtu = node.get('underlay_mtu')
        mtu = underlay if mtu in (None, '') else int(mtu)
        sites[site] = min(mtu, sites.get(site, mtu))
    rows = []
    for site in sorted(sites) or ['']:
        site_underlay = sites.get(site, underlay)
        fits = site_underlay - KUBESPAN_OVERHEAD
        row = dict(site=site or None, underlay=site_underlay, kubespan=kubespan, kubespan_max=fits, cilium=cilium_mtu,
                   pod=cilium_mtu - VXLAN_OVERHEAD, problems=[])
        if kubespan > fits:
            row['problems'].append(
                'site %s: its underlay MTU %d leaves room for a KubeSpan MTU of %d - %d = %d, but the configs get %d (the cluster '
                'underlay MTU %d - %d): full-size packets are fragmented or dropped silently there; set the cluster underlay MTU '
                'to the smallest one between the sites, %d' % (site or '(none)', site_underlay, site_underlay, KUBESPAN_OVERHEAD, fits,
                                                               kubespan, underlay, KUBESPAN_OVERHEAD, site_underlay))
        row['ok'] = not row['problems']
        problems += row['problems']
        rows.append(row)
    return dict(underlay=underlay, kubespan=kubespan, cilium=cilium_mtu, pod=cilium_mtu - VXLAN_OVERHEAD, sites=rows,
                ok=not problems, problems=problems)


def budget_lines(report):
    """The budget as a table, one line per site."""
    lines = ['%-10s %8s %9s %7s %5s  %s' % ('site', 'underlay', 'kubespan', 'cilium', 'pod', 'fits')]
    for row in report['sites']:
        values = (row['site'] or '-', row['underlay'], row['kubespan'], row['cilium'], row['pod'], 'yes' if row['ok'] else 'NO')
        lines.append('%-10s %8d %9d %7d %5d  %s' % values)
    return lines
