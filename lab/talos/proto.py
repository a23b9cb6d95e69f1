"""The collection's generated Talos API stubs, for the server side of the simulator.

The collection is importable as ``ansible_collections.hybridops.talos`` from ``.venv/collections``
(make setup links this checkout there) as a plain namespace package: putting that folder on
``sys.path`` is Python's own import system, no private Ansible loader needed. Under pytest,
conftest.py has installed Ansible's collection finder, which answers first; both find the same files.
"""
import os
import sys

from .. import ROOT

COLLECTIONS = os.path.join(ROOT, '.venv', 'collections')
if COLLECTIONS not in sys.path:
    sys.path.append(COLLECTIONS)

# pylint: disable=wrong-import-position,unused-import
from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import (  # noqa: E402,F401
    cluster_grpc, cluster_pb2, common_pb2, cosi_resource_pb2, cosi_state_grpc, cosi_state_pb2, definitions_cluster_pb2,
    definitions_enums_pb2, definitions_etcd_pb2, definitions_kubespan_pb2, definitions_runtime_pb2, definitions_v1alpha1_pb2, machine_grpc, machine_pb2,
    resource_config_pb2)
