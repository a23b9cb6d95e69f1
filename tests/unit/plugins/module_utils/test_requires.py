"""Optional libraries are checked one way: by importing them, with Ansible's message when one is missing."""
import sys

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils import _requires
from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError


@pytest.fixture
def fresh(monkeypatch):
    """Forget what was imported before, so that a library hidden by the test is looked for again."""
    monkeypatch.setattr(_requires, '_SEEN', {})


def test_libraries_that_import_pass(fresh):
    _requires.check(*_requires.TALOS_API)
    assert _requires.missing('jsonschema', 'PyYAML') == []


def test_a_hidden_library_is_missing_with_its_import_traceback(fresh, monkeypatch):
    monkeypatch.setitem(sys.modules, 'jsonschema', None)
    with pytest.raises(ModuleError) as caught:
        _requires.check('PyYAML', 'jsonschema', reason='for validating configs')
    error = caught.value
    assert error.reason == 'missing_library' and error.failure['library'] == 'jsonschema'
    assert error.message.startswith('Failed to import the required Python library (jsonschema) on ')
    assert 'This is required for validating configs.' in error.message
    assert 'ImportError' in error.trace or 'ModuleNotFoundError' in error.trace
