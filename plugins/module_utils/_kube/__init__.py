# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes client layer: one client built from module params, server-side apply, noise-free diffs,
readiness rules and bounded waits (docs/kubernetes.md, decisions/0009)."""
