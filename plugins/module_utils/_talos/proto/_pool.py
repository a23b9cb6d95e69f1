# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The descriptor pool our generated message modules build their classes in.

A pool of our own rather than protobuf's global one: our files define ``google.rpc.Status`` and
packages with generic names (``common``, ``machine``), which would clash with
googleapis-common-protos or another Talos client loaded in the same process. The price: fields of
well-known types (Timestamp, Duration) take datetimes, timedeltas or their ``From*`` methods,
not message objects from protobuf's own ``*_pb2`` modules.
"""

from __future__ import annotations

try:
    from google.protobuf import any_pb2, descriptor_pool, duration_pb2, empty_pb2, timestamp_pb2
    from google.protobuf.internal import builder
except ImportError as exc:
    HAS_PROTOBUF = False
    PROTOBUF_IMPORT_ERROR = exc
    POOL = None
else:
    HAS_PROTOBUF = True
    PROTOBUF_IMPORT_ERROR = None
    POOL = descriptor_pool.DescriptorPool()
    # The well-known types our .proto files import; added once, before any of our files.
    for _well_known in (any_pb2, duration_pb2, empty_pb2, timestamp_pb2):
        POOL.AddSerializedFile(_well_known.DESCRIPTOR.serialized_pb)


def build(serialized, module_name, namespace):
    """Add one serialized FileDescriptorProto to the pool and define its classes in ``namespace``.

    The same two builder calls protoc's Python output makes, against our pool. Returns the
    FileDescriptor, or None when protobuf is not installed (the caller then reports it).
    """
    if not HAS_PROTOBUF:
        return None
    descriptor = POOL.AddSerializedFile(serialized)
    builder.BuildMessageAndEnumDescriptors(descriptor, namespace)
    builder.BuildTopDescriptorsAndMessages(descriptor, module_name, namespace)
    return descriptor
