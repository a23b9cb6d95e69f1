"""Talos node simulator: one process per node, each in its own network namespace (see docs/lab-talos.md).

``topology`` decides which nodes exist and where (from the Hetzner and Proxmox stand-ins), ``netns``
builds the network, ``launcher`` starts and stops the node processes, and ``node`` is what runs
inside each namespace: a gRPC server speaking the Talos API with a real etcd member behind it.
"""
import os

from .. import ROOT

TALOS_VERSIONS = ('v1.9.6', 'v1.13.9')
DEFAULT_VERSION = 'v1.9.6'
# Oracles and interface facts are read where they are published, never copied into the repository.
SHARED = os.environ.get('LAB_SHARED_DIR') or os.path.join(ROOT, '..', 'shared')
