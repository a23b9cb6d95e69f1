# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our compiled .proto descriptors agree with the Talos interface facts, for every Talos tag listed.

The comparison starts from what the generated modules hold (their FileDescriptorProtos and the
grpclib handler tables), so a field added, renamed or renumbered in a .proto file is checked
without anyone updating a list here.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os

import pytest

from google.protobuf import descriptor_pb2

from ansible_collections.hybridops.talos.plugins.module_utils._talos import proto as proto_package

from shared_oracles import SHARED, skip_reason

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '..', '..'))
FACTS_PATH = os.path.join(SHARED, 'reference', 'talos-api-facts.json')
PROTO_DIR = os.path.dirname(proto_package.__file__)
PACKAGE = proto_package.__name__

FDP = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    FDP.TYPE_DOUBLE: 'double', FDP.TYPE_FLOAT: 'float', FDP.TYPE_INT64: 'int64', FDP.TYPE_UINT64: 'uint64',
    FDP.TYPE_INT32: 'int32', FDP.TYPE_FIXED64: 'fixed64', FDP.TYPE_FIXED32: 'fixed32', FDP.TYPE_BOOL: 'bool',
    FDP.TYPE_STRING: 'string', FDP.TYPE_BYTES: 'bytes', FDP.TYPE_UINT32: 'uint32', FDP.TYPE_SFIXED32: 'sfixed32',
    FDP.TYPE_SFIXED64: 'sfixed64', FDP.TYPE_SINT32: 'sint32', FDP.TYPE_SINT64: 'sint64',
}


def load_facts():
    reason = skip_reason('reference', 'talos-api-facts.json')
    if reason:
        pytest.skip(reason, allow_module_level=True)
    with open(FACTS_PATH, encoding='utf-8') as handle:
        return json.load(handle)


FACTS = load_facts()
TAGS = FACTS['talos_tags']


def facts_messages():
    messages = dict(FACTS['messages'])
    messages.update(FACTS['cosi_resources']['spec_messages'])
    messages['resource.config.MachineConfigSpec'] = FACTS['cosi_resources']['resource.config.MachineConfigSpec']
    return messages


def facts_enums():
    enums = dict(FACTS['enums'])
    enums.update(FACTS['cosi_resources']['spec_enums'])
    return enums


def generated_modules(suffix):
    names = sorted(name[:-3] for name in os.listdir(PROTO_DIR) if name.endswith(suffix + '.py'))
    return [importlib.import_module('%s.%s' % (PACKAGE, name)) for name in names]


def compiled_files():
    """FileDescriptorProto of every generated message module."""
    files = []
    for module in generated_modules('_pb2'):
        files.append(descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb))
    return files


def walk_messages(prefix, messages):
    for message in messages:
        full_name = '%s.%s' % (prefix, message.name)
        if message.options.map_entry:
            continue
        yield full_name, message
        yield from walk_messages(full_name, message.nested_type)


def walk_enums(prefix, enums, messages):
    for enum in enums:
        yield '%s.%s' % (prefix, enum.name), enum
    for message in messages:
        yield from walk_enums('%s.%s' % (prefix, message.name), message.enum_type, message.nested_type)


def compiled_messages():
    result = {}
    for file_proto in compiled_files():
        for full_name, message in walk_messages(file_proto.package, file_proto.message_type):
            result[full_name] = message
    return result


def compiled_enums():
    result = {}
    for file_proto in compiled_files():
        for full_name, enum in walk_enums(file_proto.package, file_proto.enum_type, file_proto.message_type):
            result[full_name] = enum
    return result


def field_type(field, message):
    """The facts' spelling of a field's type: scalar name, 'message X', 'enum X' or 'map<K, V>'."""
    if field.type in SCALARS:
        return SCALARS[field.type]
    type_name = field.type_name.lstrip('.')
    if field.type == FDP.TYPE_MESSAGE:
        entry = [nested for nested in message.nested_type if nested.options.map_entry and type_name.endswith('.' + nested.name)]
        if entry:
            key, value = entry[0].field
            return 'map<%s, %s>' % (field_type(key, entry[0]), field_type(value, entry[0]))
        return 'message ' + type_name
    if field.type == FDP.TYPE_ENUM:
        return 'enum ' + type_name
    raise AssertionError('unexpected field type %s' % field.type)


def describe_field(field, message):
    oneof = None
    if field.HasField('oneof_index') and not field.proto3_optional:
        oneof = message.oneof_decl[field.oneof_index].name
    return {
        'number': field.number,
        'type': field_type(field, message),
        'label': 'repeated' if field.label == FDP.LABEL_REPEATED else 'optional',
        'proto3_optional': field.proto3_optional,
        'oneof': oneof,
    }


def describe_fact(fact):
    return {
        'number': fact['number'],
        'type': fact['type'],
        'label': fact['label'],
        'proto3_optional': bool(fact.get('proto3_optional')),
        'oneof': fact.get('oneof'),
    }


def present_at(entry, tag, key='only_in'):
    return tag in entry.get(key, TAGS)


MESSAGES = compiled_messages()
ENUMS = compiled_enums()


def test_the_generated_modules_define_what_the_client_needs():
    # Guards the parametrised tests below against passing vacuously on an empty package.
    for name in ('machine.ApplyConfigurationRequest', 'machine.EtcdMemberListResponse', 'common.Data',
                 'cosi.resource.GetRequest', 'talos.resource.definitions.runtime.MachineStatusSpec',
                 'resource.config.MachineConfigSpec'):
        assert name in MESSAGES
    assert 'talos.resource.definitions.kubespan.IdentitySpec' not in MESSAGES, 'the WireGuard private key message is never read'


@pytest.mark.parametrize('tag', TAGS)
@pytest.mark.parametrize('full_name', sorted(MESSAGES))
def test_message_fields_match_the_facts(full_name, tag):
    facts = facts_messages()
    assert full_name in facts, '%s is not in the interface facts: do not invent messages' % full_name
    fact = facts[full_name]
    message = MESSAGES[full_name]
    ours = {field.name: describe_field(field, message) for field in message.field}
    if not present_at(fact, tag):
        # A message of another tag only: the union .proto may carry it; check its shape anyway.
        expected = {name: describe_fact(value) for name, value in fact.get('fields', {}).items()}
        assert ours == expected
        return
    known = fact.get('fields', {})
    for name, described in ours.items():
        assert name in known, '%s.%s is not in the interface facts' % (full_name, name)
        assert described == describe_fact(known[name]), '%s.%s differs from the facts' % (full_name, name)
    missing = sorted(name for name, value in known.items() if present_at(value, tag) and name not in ours)
    assert not missing, '%s lacks fields that Talos %s sends: %s' % (full_name, tag, ', '.join(missing))


@pytest.mark.parametrize('tag', TAGS)
@pytest.mark.parametrize('full_name', sorted(ENUMS))
def test_enum_values_match_the_facts(full_name, tag):
    facts = facts_enums()
    assert full_name in facts, '%s is not in the interface facts' % full_name
    fact = facts[full_name]
    ours = {value.name: value.number for value in ENUMS[full_name].value}
    for name, number in ours.items():
        assert fact['values'].get(name) == number, '%s.%s differs from the facts' % (full_name, name)
    only_in = fact.get('values_only_in', {})
    expected = {name for name in fact['values'] if tag in only_in.get(name, TAGS)}
    assert expected <= set(ours), '%s lacks values of Talos %s: %s' % (full_name, tag, sorted(expected - set(ours)))


def service_handlers():
    """(service full name, method, grpclib Handler) from every generated server base class."""
    result = []
    for module in generated_modules('_grpc'):
        for attribute in dir(module):
            base = getattr(module, attribute)
            if not (isinstance(base, type) and attribute.endswith('Base')):
                continue
            # A concrete subclass only to read the handler table grpclib would serve.
            concrete = type('Concrete', (base,), {name: lambda self, stream: None for name in base.__abstractmethods__})
            for path, handler in concrete().__mapping__().items():
                service, method = path.strip('/').split('/')
                result.append((service, method, path, handler))
    return result


HANDLERS = service_handlers()


def test_every_service_file_has_handlers():
    services = {service for service, _method, _path, _handler in HANDLERS}
    assert services == {'machine.MachineService', 'cluster.ClusterService', 'cosi.resource.State'}


@pytest.mark.parametrize('tag', TAGS)
@pytest.mark.parametrize('service,method,path,handler', HANDLERS, ids=[path for _s, _m, path, _h in HANDLERS])
def test_rpcs_match_the_facts(service, method, path, handler, tag):
    assert service in FACTS['services'], '%s is not in the interface facts' % service
    rpc = FACTS['services'][service]['rpcs'].get(method)
    assert rpc is not None, '%s is not in the interface facts' % path
    assert present_at(rpc, tag) and present_at(FACTS['services'][service], tag), '%s does not exist in Talos %s' % (path, tag)
    assert path == rpc['full_method']
    assert handler.request_type.DESCRIPTOR.full_name == rpc['request']
    assert handler.reply_type.DESCRIPTOR.full_name == rpc['response']
    cardinality = handler.cardinality
    assert (cardinality.client_streaming, cardinality.server_streaming) == (rpc['client_streaming'], rpc['server_streaming'])


def test_committed_stubs_match_the_proto_sources():
    pytest.importorskip('grpc_tools', reason='grpcio-tools (requirements/dev.txt) regenerates the stubs')
    spec = importlib.util.spec_from_file_location('gen_talos_proto', os.path.join(ROOT, 'scripts', 'gen_talos_proto.py'))
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.stale(generator.generate()) == [], 'run .venv/bin/python scripts/gen_talos_proto.py'
