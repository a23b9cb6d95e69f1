"""A stateful stand-in for the Hetzner Cloud API (see docs/lab.md)."""
import os

from .. import ROOT

# The published OpenAPI description, an oracle beside the checkout. Only the optional conformance check
# (``--validate``, tests) reads it; the stand-in itself never needs it.
OPENAPI_SPEC = os.path.join(os.path.dirname(ROOT), 'shared', 'oracles', 'hcloud', 'hcloud.openapi.json')


class OracleMissing(Exception):
    """The OpenAPI description is not beside the checkout; the message says where it was looked for."""


def openapi_missing():
    """None when the description is there, else one sentence naming the folder or file that is absent."""
    if os.path.isfile(OPENAPI_SPEC):
        return None
    absent = OPENAPI_SPEC
    while not os.path.exists(os.path.dirname(absent)):
        absent = os.path.dirname(absent)
    return ('the OpenAPI check needs %s, and %s is absent (the check is for tests, where ../shared sits beside '
            'the checkout)' % (OPENAPI_SPEC, absent))
