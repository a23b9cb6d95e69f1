"""Properties of sealing over random secrets, names, namespaces and scopes (hypothesis).

Each generated case is sealed with the collection's code and unsealed twice, independently of it: by this folder's
unseal (conftest.py, written from the byte layout) and by the lab's Sealed Secrets controller stand-in
(lab/kube/sealed.py, written from the controller's behaviour). Both must give the values back byte for byte; a value
moved out of its scope must not unseal in the lab controller; no value appears in the sealed object.
"""
import json
import os
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets as sealing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
from lab.kube import sealed as lab_sealed  # noqa: E402  pylint: disable=wrong-import-position

# DNS-1123 labels (namespaces) and subdomains (names), and Secret keys ([-._a-zA-Z0-9]+, not "." or "..").
LABEL = st.from_regex(r'\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z')
NAME = st.from_regex(r'\A[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?\Z').filter(lambda n: '..' not in n and '.-' not in n and '-.' not in n)
KEY = st.from_regex(r'\A[-._a-zA-Z0-9]{1,24}\Z').filter(lambda k: k not in ('.', '..'))
VALUE = st.one_of(st.text(min_size=0, max_size=200), st.binary(min_size=0, max_size=300))
VALUES = st.dictionaries(KEY, VALUE, min_size=1, max_size=4)
SCOPE = st.sampled_from(['strict', 'namespace-wide', 'cluster-wide'])
CASES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _bytes(value):
    return value if isinstance(value, bytes) else value.encode('utf-8')


@CASES
@given(values=VALUES, name=NAME, namespace=LABEL, scope=SCOPE)
def test_any_secret_unseals_to_its_values_in_both_controllers(controller_cert, controller_key, unseal, values, name, namespace, scope):
    obj = sealing.sealed_secret(sealing.load_certificate(controller_cert), values, name, namespace, scope)
    wanted = {key: _bytes(value) for key, value in values.items()}
    assert unseal(obj, controller_key) == wanted
    data, error = lab_sealed.unseal(obj, [controller_key])
    assert error is None and data == wanted


@CASES
@given(values=VALUES, name=NAME, namespace=LABEL, scope=SCOPE, other_name=NAME, other_namespace=LABEL)
def test_a_value_unseals_elsewhere_only_where_its_scope_allows(controller_cert, controller_key, values, name, namespace, scope,
                                                               other_name, other_namespace):
    obj = sealing.sealed_secret(sealing.load_certificate(controller_cert), values, name, namespace, scope)
    obj['metadata'].update(name=other_name, namespace=other_namespace)
    allowed = (scope == 'cluster-wide' or (scope == 'namespace-wide' and other_namespace == namespace)
               or (other_name == name and other_namespace == namespace))
    data, error = lab_sealed.unseal(obj, [controller_key])
    if allowed:
        assert error is None and data == {key: _bytes(value) for key, value in values.items()}
    else:
        assert data is None and error.startswith('no key could decrypt secret (')


@CASES
@given(values=st.dictionaries(KEY, st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789', min_size=12, max_size=40),
                              min_size=1, max_size=3),
       name=NAME, namespace=LABEL, scope=SCOPE)
def test_no_value_appears_in_the_sealed_object(controller_cert, values, name, namespace, scope):
    obj = sealing.sealed_secret(sealing.load_certificate(controller_cert), values, name, namespace, scope)
    text = json.dumps(obj)
    assert not [key for key, value in values.items() if value in text]
    assert sorted(obj['spec']['encryptedData']) == sorted(values)
