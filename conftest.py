"""Make ``ansible_collections.hybridops.talos`` importable in pytest, as ansible-test does, and the
helpers in ``tests/`` (``shared_oracles``) importable from every test folder."""
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.join(ROOT, '.venv', 'collections')
if os.path.join(ROOT, 'tests') not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, 'tests'))

if os.path.isdir(COLLECTIONS):
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[COLLECTIONS])._install()
else:  # pragma: no cover - only without `make setup`
    sys.exit('run `make setup` first: %s is missing' % COLLECTIONS)
