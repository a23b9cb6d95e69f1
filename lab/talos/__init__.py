"""Talos node simulator: one process per node, each in its own network namespace (see docs/lab-talos.md).

``topology`` decides which nodes exist and where (from the Hetzner and Proxmox stand-ins), ``netns``
builds the network, ``launcher`` starts and stops the node processes, and ``node`` is what runs
inside each namespace: a gRPC server speaking the Talos API with a real etcd member behind it.
"""
import os

from .. import ROOT

TALOS_VERSIONS = ('v1.9.6', 'v1.13.9')
DEFAULT_VERSION = 'v1.9.6'
# What the nodes check, from the repository alone (never ../shared): the per-call role rules and the
# Talos config schemas. Tests compare both with the upstream oracles when ../shared is present.
API_ROLES_FILE = os.path.join(ROOT, 'lab', 'talos', 'api_roles.json')
SCHEMA_DIR = os.path.join(ROOT, 'talos_schemas')
