# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KubeSpan mesh verification: Talos' peer-state rules, the N x (N-1) matrix, checks, diagnosis, pictures.

Everything but ``collect`` is pure logic over plain data with the clock passed in, so the rules can
be tested at their boundary times. ``collect`` is the only part that talks to nodes.
"""
