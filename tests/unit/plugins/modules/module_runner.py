"""Run a module's real ``main()`` in this process, with arguments as Ansible hands them over.

``patch_module_args`` (ansible-core's helper for module unit tests) feeds the arguments to
``AnsibleModule``; the module ends with ``exit_json``/``fail_json``, which print the result as JSON
and exit, exactly as under ``ansible-playbook``. Argument handling, check mode and the failure shape
are tested this way without starting a playbook per case.
"""
import importlib
import json
import os
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback
from ansible.module_utils.testing import patch_module_args

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
# Every module of the collection: a new one joins the tables that iterate over them (failure shape, docs).
MODULES = tuple(sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, 'plugins', 'modules'))
                       if name.endswith('.py') and not name.startswith('_')))


def load(name):
    return importlib.import_module('ansible_collections.hybridops.talos.plugins.modules.%s' % name)


def run_module(capsys, name, args, check_mode=False, diff=False, no_log=False):
    """The result dict of module ``name`` run with ``args``; ``failed`` is set when it failed.

    Tracebacks of errors are captured, as ``ANSIBLE_DISPLAY_TRACEBACK=error`` asks a real run to (the module
    reads that from ``_ansible_tracebacks_for`` once per process, and other tests may have loaded the
    controller's own switch, so it is set here directly).
    """
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff, _ansible_no_log=no_log)
    capsys.readouterr()
    with patch_module_args(args), pytest.raises(SystemExit), \
            mock.patch.object(_traceback, '_is_traceback_enabled', lambda event: True):
        load(name).main()
    out = capsys.readouterr().out
    return json.loads(out[out.index('{'):])
