# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's EXAMPLES use only options it documents, and every documented reason code exists."""

from __future__ import annotations

import yaml

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.diagnose import REASONS
from ansible_collections.hybridops.talos.plugins.modules import kubespan_verify


def test_examples_use_documented_options_only():
    options = set(yaml.safe_load(kubespan_verify.DOCUMENTATION)['options'])
    tasks = [task for task in yaml.safe_load(kubespan_verify.EXAMPLES) if 'hybridops.talos.kubespan_verify' in task]
    assert len(tasks) == 2
    for task in tasks:
        assert set(task['hybridops.talos.kubespan_verify']) <= options


def test_every_reason_code_is_documented():
    returned = yaml.safe_load(kubespan_verify.RETURN)
    text = ' '.join(returned['links']['contains']['reason']['description'])
    assert all('C(%s)' % reason in text for reason in REASONS)
