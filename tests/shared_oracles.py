"""Where the upstream oracles are: ``../shared`` beside the checkout. CI has it; a user's clone does not.

The collection and the lab never read it. Tests that compare our data or behaviour with an oracle
get the path from here, and skip, with a reason that names the missing folder, when it is absent:

    path = oracle_path('oracles', 'talos', 'v1.9.6', 'fixtures')   # in a test or fixture: skips
    pytestmark = needs_oracle('reference', 'talos-api-facts.json')  # a whole module
"""
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')


def _missing(parts):
    """The first folder or file on the way to ``../shared/<parts>`` that does not exist, or None."""
    path = SHARED
    for part in ('',) + tuple(parts):
        path = os.path.join(path, part) if part else path
        if not os.path.exists(path):
            return path
    return None


def skip_reason(*parts):
    missing = _missing(parts)
    if missing is None:
        return None
    return 'needs the oracle ../shared/%s, and %s is absent (oracle tests run where ../shared sits beside the checkout)' % (
        '/'.join(parts), os.path.normpath(missing))


def oracle_path(*parts):
    """The absolute path of ``../shared/<parts>``; skips the calling test when it is absent."""
    reason = skip_reason(*parts)
    if reason:
        pytest.skip(reason)
    return os.path.join(SHARED, *parts)


def needs_oracle(*parts):
    """A skip mark for a test or module (``pytestmark``) that needs ``../shared/<parts>``."""
    reason = skip_reason(*parts)
    return pytest.mark.skipif(reason is not None, reason=reason or 'present')


def present(*parts):
    return skip_reason(*parts) is None
