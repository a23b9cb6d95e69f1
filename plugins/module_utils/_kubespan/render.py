# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh report for people: a text table and an SVG picture of the matrix.

The SVG is written by hand (a grid of rectangles and text) so the collection needs no drawing
library. It holds states and reasons only, no ages, so an unchanged mesh gives the same file.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .matrix import MISSING, UNREACHABLE
from .states import DOWN, UNKNOWN, UP

GREEN = '#2e7d32'
RED = '#c62828'
GREY = '#9e9e9e'
DIAGONAL = '#eeeeee'

_SHORT = {UP: 'up', DOWN: 'DOWN', UNKNOWN: 'unkn', UNREACHABLE: 'n/a', MISSING: 'miss'}


def colour(cell):
    """Green for a healthy direction, grey when it cannot be judged, red for everything else."""
    if cell['ok']:
        return GREEN
    if cell['state'] in (UNREACHABLE, UNKNOWN):
        return GREY
    return RED


def _short(cell):
    text = _SHORT.get(cell['state'], cell['state'])
    if cell['state'] == UP and not cell['ok']:
        text = 'up!'  # up, but a check on it failed (old handshake, no traffic)
    return text


def summary_lines(report):
    """The report as lines of text: headline, the matrix as a table, what is broken, the MTU."""
    counts = report['counts']
    lines = ['KubeSpan mesh: %d nodes, %d of %d directions up, %d of %d links healthy'
             % (counts['nodes'], counts['pairs_up'], counts['pairs'], counts['links_ok'], counts['links'])]
    names = [node['name'] for node in report['nodes']]
    cells = {(cell['from'], cell['to']): cell for cell in report['pairs']}
    first = max([len('from \\ to')] + [len(name) for name in names])
    widths = [max(4, len(name)) for name in names]
    lines.append(' | '.join(['from \\ to'.ljust(first)] + [name.ljust(width) for name, width in zip(names, widths)]))
    lines.append('-+-'.join(['-' * first] + ['-' * width for width in widths]))
    for viewer in names:
        row = [viewer.ljust(first)]
        for other, width in zip(names, widths):
            row.append(('-' if other == viewer else _short(cells[(viewer, other)])).ljust(width))
        lines.append(' | '.join(row).rstrip())
    for link in report['links']:
        if not link['ok']:
            lines.append('BROKEN %s <-> %s [%s]: %s' % (link['nodes'][0], link['nodes'][1], link['reason'], link['message']))
    for extra in report['extras']:
        lines.append('UNEXPECTED %s' % extra)
    mtu = report['mtu']
    if mtu['kubespan'] is not None or mtu['cilium'] is not None:
        layers = (('underlay', 'underlay'), ('KubeSpan', 'kubespan'), ('Cilium', 'cilium'))
        values = ', '.join('%s %s' % (label, mtu[key]) for label, key in layers if mtu[key] is not None)
        lines.append('MTU %s: %s' % (values, 'consistent' if mtu['ok'] else '; '.join(mtu['problems'])))
    return lines


def svg(report, cell_size=26, char_width=7.5):
    """The matrix as an SVG document (text): row = the node that reports, column = the peer it reports on."""
    names = [node['name'] for node in report['nodes']]
    cells = {(cell['from'], cell['to']): cell for cell in report['pairs']}
    reasons = {}
    for link in report['links']:
        if not link['ok']:
            a, b = link['nodes']
            reasons[(a, b)] = reasons[(b, a)] = link['reason']
    label = int(max([len(name) for name in names] + [4]) * char_width) + 12
    top = label + 30
    size = len(names) * cell_size
    legend = 70
    width = max(label + size + 20, 460)  # room for the legend
    height = top + size + legend
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="monospace" font-size="12">' % (width, height, width, height),
           '<title>KubeSpan mesh: %d of %d links healthy</title>' % (report['counts']['links_ok'], report['counts']['links']),
           '<text x="4" y="16" font-weight="bold">KubeSpan mesh: row = node, column = the peer it sees</text>']
    for index, name in enumerate(names):
        y = top + index * cell_size + cell_size * 0.65
        out.append('<text class="row-label" x="%d" y="%.1f" text-anchor="end">%s</text>' % (label - 6, y, escape(name)))
        x = label + index * cell_size + cell_size * 0.65
        out.append('<text class="column-label" x="%.1f" y="%d" transform="rotate(-90 %.1f %d)">%s</text>'
                   % (x, top - 6, x, top - 6, escape(name)))
    for row, viewer in enumerate(names):
        for column, other in enumerate(names):
            x, y = label + column * cell_size, top + row * cell_size
            if viewer == other:
                out.append('<rect class="self" x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#ffffff"/>'
                           % (x, y, cell_size, cell_size, DIAGONAL))
                continue
            cell = cells[(viewer, other)]
            why = reasons.get((viewer, other))
            title = '%s sees %s: %s%s' % (viewer, other, cell['state'], ' (%s)' % why if why else '')
            out.append('<rect class="cell" data-from=%s data-to=%s data-state=%s x="%d" y="%d" width="%d" height="%d" '
                       'fill="%s" stroke="#ffffff"><title>%s</title></rect>'
                       % (quoteattr(viewer), quoteattr(other), quoteattr(cell['state']), x, y, cell_size, cell_size,
                          colour(cell), escape(title)))
    y = top + size + 24
    for index, (fill, text) in enumerate(((GREEN, 'up'), (RED, 'down / failing'), (GREY, 'unknown / no answer'))):
        x = 4 + index * 150
        out.append('<rect class="legend" x="%d" y="%d" width="14" height="14" fill="%s"/>' % (x, y - 11, fill))
        out.append('<text x="%d" y="%d">%s</text>' % (x + 20, y, escape(text)))
    out.append('</svg>')
    return '\n'.join(out) + '\n'
