"""The collection's generated Talos API stubs, for the server side of the simulator.

The collection is importable as ``ansible_collections.hybridops.talos`` through ansible's collection
finder over ``.venv/collections`` (as the repository's conftest.py does for pytest).
"""
import os
import sys

from .. import ROOT


def _install_finder():
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    # Installed already under pytest (conftest.py); installing it twice would replace the first one.
    if not any(isinstance(finder, _AnsibleCollectionFinder) for finder in sys.meta_path):
        _AnsibleCollectionFinder(paths=[os.path.join(ROOT, '.venv', 'collections')])._install()


_install_finder()

# pylint: disable=wrong-import-position,unused-import
from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import (  # noqa: E402,F401
    cluster_grpc, cluster_pb2, common_pb2, cosi_resource_pb2, cosi_state_grpc, cosi_state_pb2, definitions_cluster_pb2,
    definitions_enums_pb2, definitions_etcd_pb2, definitions_kubespan_pb2, definitions_runtime_pb2, definitions_v1alpha1_pb2, machine_grpc, machine_pb2,
    resource_config_pb2)
