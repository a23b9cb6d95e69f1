# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The summary table and the SVG picture of the matrix."""

from __future__ import annotations

from xml.etree import ElementTree

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.render import GREEN, GREY, RED, summary_lines, svg
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.verify import verify

from kubespan_mesh import FIVE, mesh

SVG = '{http://www.w3.org/2000/svg}'


def broken_report():
    views = {('vps-cp-1', 'home-cp-1'): dict(state='down', handshake=400),
             ('home-cp-1', 'vps-cp-1'): dict(state='down', handshake=400)}
    return verify(mesh(views=views, unreachable=['home-w-2']), mtu=dict(underlay=1450, kubespan=1370, cilium=1320))


def test_summary_is_a_headline_a_table_and_the_broken_links():
    lines = summary_lines(broken_report())
    assert lines[0] == 'KubeSpan mesh: 5 nodes, 14 of 20 directions up, 5 of 10 links healthy'
    assert lines[1] == 'from \\ to | vps-cp-1 | vps-cp-2 | home-cp-1 | home-w-1 | home-w-2'
    assert lines[3] == 'vps-cp-1  | -        | up       | DOWN      | up       | up'
    assert lines[7] == 'home-w-2  | n/a      | n/a      | n/a       | n/a      | -'
    assert lines[8].startswith('BROKEN vps-cp-1 <-> home-cp-1 [stale_handshake]: no WireGuard handshake')
    assert sum(line.startswith('BROKEN') for line in lines) == 5
    assert lines[-1] == 'MTU underlay 1450, KubeSpan 1370, Cilium 1320: consistent'


def test_an_up_direction_failing_a_check_is_marked():
    lines = summary_lines(verify(mesh(views={('vps-cp-1', 'vps-cp-2'): dict(handshake=200)}), handshake_max_age=180))
    assert lines[3] == 'vps-cp-1  | -        | up!      | up        | up       | up'


def test_svg_has_one_cell_per_direction_coloured_by_state():
    root = ElementTree.fromstring(svg(broken_report()))
    assert root.tag == SVG + 'svg'
    cells = {(rect.get('data-from'), rect.get('data-to')): rect for rect in root.iter(SVG + 'rect') if rect.get('class') == 'cell'}
    assert len(cells) == 20
    assert cells[('vps-cp-1', 'vps-cp-2')].get('fill') == GREEN
    assert cells[('vps-cp-1', 'home-cp-1')].get('fill') == RED
    assert cells[('home-cp-1', 'vps-cp-1')].get('data-state') == 'down'
    assert all(cells[('home-w-2', other)].get('fill') == GREY for other in FIVE[:-1])
    # The silent node's column is still what the others see of it: up, green.
    assert cells[('vps-cp-1', 'home-w-2')].get('fill') == GREEN
    title = cells[('vps-cp-1', 'home-cp-1')].find(SVG + 'title').text
    assert title == 'vps-cp-1 sees home-cp-1: down (stale_handshake)'
    assert len([rect for rect in root.iter(SVG + 'rect') if rect.get('class') == 'self']) == 5
    rows = [text.text for text in root.iter(SVG + 'text') if text.get('class') == 'row-label']
    columns = [text.text for text in root.iter(SVG + 'text') if text.get('class') == 'column-label']
    assert rows == columns == FIVE


def test_svg_escapes_names_and_holds_no_ages():
    names = ['a<&>"b', 'c']
    document = svg(verify(mesh(names)))
    root = ElementTree.fromstring(document)
    assert [text.text for text in root.iter(SVG + 'text') if text.get('class') == 'row-label'] == names
    assert ' s ago' not in document


def test_svg_of_an_unchanged_mesh_is_the_same_file():
    assert svg(broken_report()) == svg(broken_report())
