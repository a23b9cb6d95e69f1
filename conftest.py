"""Make ``ansible_collections.hybridops.talos`` importable in pytest, as ansible-test does, and the
helpers in ``tests/`` (``shared_oracles``) importable from every test folder.

ansible-core has no public way to install its collection finder (ansible-test's own pytest plugin
calls the same private class); the tests need it, not a plain ``sys.path`` entry, because Ansible's
plugin loader (doc fragments, the inventory plugin) resolves collections through it. This is the
only place that touches it, and a release of ansible-core that changes it stops the run here, saying so.
"""
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.join(ROOT, '.venv', 'collections')
if os.path.join(ROOT, 'tests') not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, 'tests'))

if not os.path.isdir(COLLECTIONS):  # pragma: no cover - only without `make setup`
    sys.exit('run `make setup` first: %s is missing' % COLLECTIONS)
try:
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[COLLECTIONS])._install()  # pylint: disable=protected-access
except (ImportError, AttributeError, TypeError) as exc:  # pragma: no cover - only when ansible-core changes it
    sys.exit('ansible-core changed its private collection finder (%s: %s); conftest.py must follow it' % (type(exc).__name__, exc))
