"""What the stand-in checks before it stores an object.

* Built-in kinds: kubernetes-validate's strict JSON schema for the cluster's Kubernetes version (the
  same schemas and the same Draft 2020-12 validator that ``kubernetes_validate.validate(obj, version,
  strict=True)`` builds, compiled once per kind instead of once per call, and reporting every error).
* Custom resources: the CRD version's structural ``openAPIV3Schema``, as the real server does:
  unknown fields are pruned (or, under ``fieldValidation=Strict``, rejected), defaults are set, then the
  values are checked, with kube-apiserver's field paths and messages.
* Object metadata: names (RFC 1123 subdomain / label, RFC 1035 label for services), label keys and values.

A problem is a ``Cause``: a field path, a reason (``FieldValueInvalid`` …) and the message body.
"""
import json
import re

import jsonschema

from . import catalog

SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
LABEL_1123 = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
LABEL_1035 = re.compile(r'^[a-z]([-a-z0-9]*[a-z0-9])?$')
QUALIFIED = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')
LABEL_VALUE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')
SUBDOMAIN_TEXT = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
                  "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_1123_TEXT = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
                   "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
                   "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
LABEL_1035_TEXT = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
                   "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
                   "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
LABEL_VALUE_TEXT = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
                    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
                    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
NAME_PART_TEXT = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
# Resources whose names are DNS labels rather than subdomains.
LABEL_NAMED = {'namespaces': LABEL_1123, 'services': LABEL_1035}
# RBAC objects are named by path segment (ValidatePathSegmentName), so system:coredns is a valid ClusterRole name.
PATH_SEGMENT_NAMED = ('roles', 'rolebindings', 'clusterroles', 'clusterrolebindings')


def path_segment_problem(name):
    """The API server's complaint about a path-segment name, or None."""
    if name in ('.', '..'):
        return "may not be '%s'" % name
    for bad in ('/', '%'):
        if bad in name:
            return "may not contain '%s'" % bad
    return None


class Cause:
    __slots__ = ('field', 'reason', 'body')

    def __init__(self, field, reason, body):
        self.field, self.reason, self.body = field, reason, body

    def text(self):
        return '%s: %s' % (self.field, self.body) if self.field else self.body

    def as_dict(self):
        return {'reason': self.reason, 'message': self.body, 'field': self.field}

    def __repr__(self):
        return '<Cause %s>' % self.text()


def go_value(value):
    """A value as Go's %#v-ish quoting in field errors: strings quoted, numbers bare."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if value is None:
        return 'null'
    return '"%s"' % ('object' if isinstance(value, dict) else 'array')


def field_path(parts):
    text = ''
    for part in parts:
        if isinstance(part, int):
            text += '[%d]' % part
        else:
            text += ('.' if text else '') + str(part)
    return text


def _type_name(value):
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, float):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, list):
        return 'array'
    if isinstance(value, dict):
        return 'object'
    return 'null'


# ------------------------------------------------------------------ metadata

def metadata(obj, resource):
    meta = obj.get('metadata') or {}
    causes = []
    name = meta.get('name')
    if not name and not meta.get('generateName'):
        causes.append(Cause('metadata.name', 'FieldValueRequired', 'Required value: name or generateName is required'))
    elif name and resource.plural in PATH_SEGMENT_NAMED:
        problem = path_segment_problem(name)
        if problem:
            causes.append(Cause('metadata.name', 'FieldValueInvalid', 'Invalid value: %s: %s' % (json.dumps(name), problem)))
    elif name:
        pattern, text = SUBDOMAIN, SUBDOMAIN_TEXT
        if resource.plural in LABEL_NAMED:
            pattern = LABEL_NAMED[resource.plural]
            text = LABEL_1035_TEXT if pattern is LABEL_1035 else LABEL_1123_TEXT
        if not pattern.match(name) or len(name) > 253:
            causes.append(Cause('metadata.name', 'FieldValueInvalid', 'Invalid value: %s: %s' % (json.dumps(name), text)))
    for key, value in (meta.get('labels') or {}).items():
        prefix, _sep, part = key.rpartition('/')
        if not QUALIFIED.match(part or '') or len(part) > 63 or (prefix and not SUBDOMAIN.match(prefix)):
            causes.append(Cause('metadata.labels', 'FieldValueInvalid', 'Invalid value: %s: %s' % (json.dumps(key), NAME_PART_TEXT)))
        if not isinstance(value, str) or not LABEL_VALUE.match(value) or len(value) > 63:
            causes.append(Cause('metadata.labels', 'FieldValueInvalid', 'Invalid value: %s: %s' % (go_value(value), LABEL_VALUE_TEXT)))
    return causes


# ------------------------------------------------------------------ built-in kinds

class Builtin:
    """kubernetes-validate's strict schemas of one Kubernetes version, compiled once per kind."""

    def __init__(self, kube_version):
        self.kube_version = kube_version
        self.defs = catalog.definitions(kube_version)
        self.kinds = catalog.kinds(kube_version)
        self.validators = {}

    def validator(self, group, version, kind):
        key = (group, version, kind)
        if key not in self.validators:
            name = self.kinds.get(key)
            schema = {'$ref': '#/$defs/%s' % name, '$defs': self.defs}
            self.validators[key] = jsonschema.Draft202012Validator(schema) if name else None
        return self.validators[key]

    def check(self, obj, group, version, kind):
        """(unknown field paths, other causes) of ``obj`` against its kind's schema."""
        validator = self.validator(group, version, kind)
        if validator is None:
            return [], [Cause('', 'FieldValueInvalid', 'no schema for %s %s/%s' % (kind, group, version))]
        unknown, causes = [], []
        for error in validator.iter_errors(obj):
            for leaf in _leaves(error):
                path = list(leaf.absolute_path)
                if leaf.validator == 'additionalProperties':
                    extra = sorted(set(leaf.instance) - set(leaf.schema.get('properties') or {}))
                    unknown += [field_path(path + [name]) for name in extra]
                elif leaf.validator == 'required':
                    missing = re.match(r"'(.*)' is a required property", leaf.message)
                    name = missing.group(1) if missing else '?'
                    causes.append(Cause(field_path(path + [name]), 'FieldValueRequired', 'Required value'))
                elif leaf.validator == 'enum':
                    supported = ', '.join(json.dumps(v) for v in leaf.validator_value if v is not None)
                    causes.append(Cause(field_path(path), 'FieldValueNotSupported',
                                        'Unsupported value: %s: supported values: %s' % (go_value(leaf.instance), supported)))
                elif leaf.validator in ('type', 'oneOf'):
                    wanted = leaf.validator_value if leaf.validator == 'type' else 'integer or string'
                    if isinstance(wanted, list):
                        wanted = next((w for w in wanted if w != 'null'), 'null')
                    field = field_path(path)
                    causes.append(Cause(field, 'FieldValueTypeInvalid', 'Invalid value: "%s": %s in body must be of type %s: "%s"'
                                        % (_type_name(leaf.instance), field, wanted, _type_name(leaf.instance))))
                else:
                    causes.append(Cause(field_path(path), 'FieldValueInvalid', 'Invalid value: %s: %s'
                                        % (go_value(leaf.instance), leaf.message)))
        return sorted(set(unknown)), _unique(causes)


def _leaves(error):
    """The innermost errors (oneOf/anyOf report their alternatives as context)."""
    if error.validator == 'oneOf' and error.context:
        types = [e for e in error.context if e.validator == 'type']
        if len(types) == len(error.context):
            return [error]
        return [e for e in error.context if e.validator != 'type'] or [error]
    return [error]


def _unique(causes):
    seen, result = set(), []
    for cause in causes:
        if cause.text() not in seen:
            seen.add(cause.text())
            result.append(cause)
    return result


# ------------------------------------------------------------------ custom resources

class Structural:
    """A CRD version's openAPIV3Schema applied to a custom resource: prune, default, validate."""

    SKIP_ROOT = ('apiVersion', 'kind', 'metadata')

    def __init__(self, schema):
        self.schema = schema or {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}

    def run(self, obj):
        """(pruned and defaulted object, unknown field paths, causes)."""
        unknown, causes = [], []
        result = dict(obj)
        self._object(result, self.schema, [], unknown, causes, root=True)
        return result, unknown, _unique(causes)

    def _object(self, value, schema, path, unknown, causes, root=False):
        props = schema.get('properties') or {}
        extra = schema.get('additionalProperties')
        for name, sub in props.items():
            if name not in value and 'default' in sub:
                value[name] = json.loads(json.dumps(sub['default']))
        for name in list(value):
            if root and name in self.SKIP_ROOT:
                continue
            if name in props:
                value[name] = self._value(value[name], props[name], path + [name], unknown, causes)
            elif isinstance(extra, dict):
                value[name] = self._value(value[name], extra, path + [name], unknown, causes)
            elif not schema.get('x-kubernetes-preserve-unknown-fields') and extra is not True:
                unknown.append(field_path(path + [name]))
                del value[name]
        for name in schema.get('required') or ():
            if name not in value:
                causes.append(Cause(field_path(path + [name]), 'FieldValueRequired', 'Required value'))
        for key, limit, text in (('minProperties', 'min', 'should have at least %d properties'),
                                 ('maxProperties', 'max', 'should have at most %d properties')):
            if key in schema and ((limit == 'min' and len(value) < schema[key]) or (limit == 'max' and len(value) > schema[key])):
                field = field_path(path)
                causes.append(Cause(field, 'FieldValueInvalid', 'Invalid value: %d: %s in body %s' % (len(value), field, text % schema[key])))

    def _value(self, value, schema, path, unknown, causes):
        field = field_path(path)
        if value is None:
            if not schema.get('nullable'):
                # The real server drops a null for a non-nullable field with a default, else rejects it.
                causes.append(Cause(field, 'FieldValueTypeInvalid', 'Invalid value: "null": %s in body must be of type %s: "null"'
                                    % (field, schema.get('type', 'object'))))
            return value
        if schema.get('x-kubernetes-int-or-string'):
            if not isinstance(value, (int, str)) or isinstance(value, bool):
                causes.append(Cause(field, 'FieldValueTypeInvalid', 'Invalid value: "%s": %s in body must be of type integer,string: "%s"'
                                    % (_type_name(value), field, _type_name(value))))
            return value
        wanted = schema.get('type')
        got = _type_name(value)
        if wanted and not (wanted == got or (wanted == 'number' and got == 'integer')):
            causes.append(Cause(field, 'FieldValueTypeInvalid', 'Invalid value: "%s": %s in body must be of type %s: "%s"'
                                % (got, field, wanted, got)))
            return value
        if isinstance(value, dict):
            if schema.get('properties') or isinstance(schema.get('additionalProperties'), dict) or not schema.get(
                    'x-kubernetes-preserve-unknown-fields'):
                if schema.get('x-kubernetes-embedded-resource'):
                    self._object(value, dict(schema, properties=dict(schema.get('properties') or {}, **{
                        'apiVersion': {'type': 'string'}, 'kind': {'type': 'string'},
                        'metadata': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}})), path, unknown, causes)
                else:
                    self._object(value, schema, path, unknown, causes)
        elif isinstance(value, list):
            items = schema.get('items')
            if isinstance(items, dict):
                for index, item in enumerate(value):
                    value[index] = self._value(item, items, path + [index], unknown, causes)
            for key, text in (('minItems', 'should have at least %d items'), ('maxItems', 'must have at most %d items')):
                if key in schema and ((key == 'minItems' and len(value) < schema[key]) or (key == 'maxItems' and len(value) > schema[key])):
                    body = 'Invalid value: %d: %s in body %s' % (len(value), field, text % schema[key])
                    if key == 'maxItems':
                        body = 'Too many: %d: must have at most %d items' % (len(value), schema[key])
                    causes.append(Cause(field, 'FieldValueInvalid' if key == 'minItems' else 'FieldValueTooMany', body))
        self._scalar_checks(value, schema, field, causes)
        return value

    @staticmethod
    def _scalar_checks(value, schema, field, causes):
        if 'enum' in schema and value not in schema['enum']:
            supported = ', '.join(json.dumps(v) for v in schema['enum'])
            causes.append(Cause(field, 'FieldValueNotSupported', 'Unsupported value: %s: supported values: %s' % (go_value(value), supported)))
        if isinstance(value, str):
            if 'pattern' in schema and not re.search(schema['pattern'], value):
                causes.append(Cause(field, 'FieldValueInvalid', "Invalid value: %s: %s in body should match '%s'"
                                    % (json.dumps(value), field, schema['pattern'])))
            if 'maxLength' in schema and len(value) > schema['maxLength']:
                causes.append(Cause(field, 'FieldValueTooLong', 'Too long: may not be more than %d bytes' % schema['maxLength']))
            if 'minLength' in schema and len(value) < schema['minLength']:
                causes.append(Cause(field, 'FieldValueInvalid', 'Invalid value: %s: %s in body should be at least %d chars long'
                                    % (json.dumps(value), field, schema['minLength'])))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if 'minimum' in schema and value < schema['minimum']:
                causes.append(Cause(field, 'FieldValueInvalid', 'Invalid value: %s: %s in body should be greater than or equal to %s'
                                    % (json.dumps(value), field, json.dumps(schema['minimum']))))
            if 'maximum' in schema and value > schema['maximum']:
                causes.append(Cause(field, 'FieldValueInvalid', 'Invalid value: %s: %s in body should be less than or equal to %s'
                                    % (json.dumps(value), field, json.dumps(schema['maximum']))))
