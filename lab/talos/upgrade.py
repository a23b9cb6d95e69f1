"""Talos upgrades in the simulator: ``MachineService.Upgrade`` and the ``upgrade-rollback`` fault.

Real Talos pulls and checks the installer image, answers ``{ack: "Upgrade request received", actor_id}``,
then installs the new version and reboots into it (platform.md section 6, talos-api.md section 2). Here
the node answers the same way, goes away for the reboot (API closed, etcd stopped) and comes back
reporting the image's tag from ``Version``.

What the lab does not simulate, and says so in its answers rather than pretending: a staged upgrade
(``stage``), and changing API behaviour across minor versions. The node's API behaviour is the profile it
was started with (``node.version``, v1.9.6 or v1.13.9); an upgrade changes the tag it reports
(``node.tag``) within that profile's minor line only.

The ``upgrade-rollback`` fault (``python -m lab fault upgrade-rollback NODE``) is a marker file in the
node's folder: the node's next upgrade reboots and comes back at the old version, silently, as a real
node does when the new version fails to boot and its boot loader falls back to the previous entry.
"""
import json
import os
import re
import uuid

from grpclib.const import Status
from grpclib.exceptions import GRPCError

ACK = 'Upgrade request received'
ROLLBACK_FAULT = 'fault-upgrade-rollback'
INSTALLED_FILE = 'installed.json'
# The installer repositories the lab's "registry" holds: Sidero's image and Image Factory images, whose
# path carries the 64-hex-digit schematic id.
_REPOSITORIES = (re.compile(r'^ghcr\.io/siderolabs/installer$'),
                 re.compile(r'^factory\.talos\.dev/(?:[a-z0-9-]+-)?installer(?:-secureboot)?/[0-9a-f]{64}$'))
_IMAGE = re.compile(r'^(?P<repository>[^:@\s]+):(?P<tag>v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+))(?:@sha256:[0-9a-f]{64})?$')


def image_tag(image):
    """(tag, (major, minor, patch)) of an installer image the lab knows, or None."""
    found = _IMAGE.match(image or '')
    if not found or not any(r.match(found.group('repository')) for r in _REPOSITORIES):
        return None
    return found.group('tag'), tuple(int(found.group(k)) for k in ('major', 'minor', 'patch'))


def _minor(tag):
    return tuple(int(part) for part in tag.lstrip('v').split('.')[:2])


def installed_tag(node_dir, default):
    """The version the node runs: the last upgrade's, else the one it was started with."""
    try:
        with open(os.path.join(node_dir, INSTALLED_FILE), encoding='utf-8') as handle:
            return json.load(handle)['tag']
    except (OSError, ValueError, KeyError):
        return default


def _write_installed(node, tag):
    path = os.path.join(node.dir, INSTALLED_FILE)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
        json.dump({'tag': tag}, handle)


def take_rollback_fault(node):
    """True once when the fault is set for ``node``: the marker goes with the upgrade it spoils."""
    path = os.path.join(node.dir, ROLLBACK_FAULT)
    try:
        os.remove(path)
    except FileNotFoundError:
        return False
    return True


def set_rollback_fault(node_dir):
    with open(os.open(os.path.join(node_dir, ROLLBACK_FAULT), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w',
              encoding='utf-8') as handle:
        handle.write('the next upgrade of this node comes back at the old version\n')


def clear_rollback_faults(node_dirs):
    """Remove every pending rollback marker; the names of the nodes that had one."""
    cleared = []
    for node_dir in node_dirs:
        path = os.path.join(node_dir, ROLLBACK_FAULT)
        if os.path.exists(path):
            os.remove(path)
            cleared.append(os.path.basename(node_dir))
    return cleared


def check_request(node, request):
    """The tag to install, or the GRPCError the node answers with; nothing changes here."""
    if node.upgrading or node.stage != 'running':
        # One upgrade or reboot at a time: a second request while the first has not rebooted yet is refused.
        raise GRPCError(Status.FAILED_PRECONDITION, 'an upgrade or reboot of this node is already in progress')
    if request.stage:
        raise GRPCError(Status.UNIMPLEMENTED, 'lab: staged upgrades are not simulated')
    parsed = image_tag(request.image)
    if parsed is None:
        # Talos reports image pull and validation failures as plain errors (code UNKNOWN); the text is the lab's.
        raise GRPCError(Status.UNKNOWN, 'error pulling installer image "%s": not an installer image the lab knows '
                                        '(ghcr.io/siderolabs/installer:vX.Y.Z or factory.talos.dev/installer/<schematic>:vX.Y.Z)'
                        % request.image)
    tag, _numbers = parsed
    if _minor(tag) != _minor(node.version):
        raise GRPCError(Status.UNKNOWN, 'lab: the simulator runs the %s API only, so it cannot install %s '
                                        '(upgrades within v%d.%d.x only)' % (node.version, tag, *_minor(node.version)))
    return tag


async def upgrade(node, tag, rollback):
    """Install ``tag`` and reboot into it; with ``rollback`` the new version 'fails to boot' and the old one runs."""
    def install():
        if not rollback:
            _write_installed(node, tag)
            node.tag = tag
    try:
        await node.reboot(node.cfg['reboot_seconds'], before=install)
    finally:
        node.upgrading = False


def reply(machine_pb2):
    return machine_pb2.UpgradeResponse(messages=[machine_pb2.Upgrade(ack=ACK, actor_id=str(uuid.uuid4()))])
