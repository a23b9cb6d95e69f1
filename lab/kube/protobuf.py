"""Kubernetes' protobuf request bodies, for the few kinds kubectl's typed ``create`` commands send that way
(``kubectl create configmap|secret|namespace|serviceaccount``): kubectl v1.32's clientsets encode
built-in objects as protobuf and do not fall back to JSON. Other kinds answer 415.

The envelope is ``k8s\\0`` + runtime.Unknown{typeMeta=1{apiVersion=1, kind=2}, raw=2, contentEncoding=3,
contentType=4}; the field numbers below are those of k8s.io/api's generated.proto, which never change.
"""
import base64

MAGIC = b'k8s\x00'


class ProtobufError(Exception):
    pass


def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError('truncated varint')
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data):
    """[(field number, wire type, value)]: value is an int (varint) or bytes (length-delimited)."""
    pos, out = 0, []
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ProtobufError('unsupported wire type %d' % wire)
        out.append((number, wire, value))
    return out


def _map(entries, binary=False):
    result = {}
    for entry in entries:
        parts = {number: value for number, _wire, value in fields(entry)}
        value = parts.get(2, b'')
        result[parts.get(1, b'').decode()] = base64.b64encode(value).decode() if binary else value.decode()
    return result


def _message(data, spec):
    """Decode ``data`` by ``spec``: {number: (json name, kind)} with kind str|bool|map|binmap|strings|(sub spec)."""
    result, repeated = {}, {}
    for number, _wire, value in fields(data):
        if number not in spec:
            continue
        name, kind = spec[number]
        if kind in ('map', 'binmap', 'strings'):
            repeated.setdefault(number, []).append(value)
        elif kind == 'str':
            result[name] = value.decode()
        elif kind == 'bool':
            result[name] = bool(value)
        elif isinstance(kind, dict):
            result[name] = _message(value, kind)
    for number, values in repeated.items():
        name, kind = spec[number]
        result[name] = _map(values, kind == 'binmap') if kind != 'strings' else [v.decode() for v in values]
    return result


META = {1: ('name', 'str'), 2: ('generateName', 'str'), 3: ('namespace', 'str'), 11: ('labels', 'map'),
        12: ('annotations', 'map'), 14: ('finalizers', 'strings')}
KINDS = {
    ('v1', 'ConfigMap'): {1: ('metadata', META), 2: ('data', 'map'), 3: ('binaryData', 'binmap'), 4: ('immutable', 'bool')},
    ('v1', 'Secret'): {1: ('metadata', META), 2: ('data', 'binmap'), 3: ('type', 'str'), 4: ('stringData', 'map'), 5: ('immutable', 'bool')},
    ('v1', 'Namespace'): {1: ('metadata', META), 2: ('spec', {1: ('finalizers', 'strings')})},
    ('v1', 'ServiceAccount'): {1: ('metadata', META), 4: ('automountServiceAccountToken', 'bool')},
}


def decode(body):
    """The object (a dict) in a protobuf request body; raises ProtobufError for what this does not read."""
    if not body.startswith(MAGIC):
        raise ProtobufError('not a Kubernetes protobuf message')
    envelope = {number: value for number, _wire, value in fields(body[len(MAGIC):])}
    type_meta = {number: value.decode() for number, _wire, value in fields(envelope.get(1, b''))}
    api_version, kind = type_meta.get(1, ''), type_meta.get(2, '')
    spec = KINDS.get((api_version, kind))
    if spec is None:
        raise ProtobufError('%s %s in protobuf' % (api_version, kind))
    obj = _message(envelope.get(2, b''), spec)
    obj['apiVersion'], obj['kind'] = api_version, kind
    return obj
