"""One lab for the Flux suite: five simulated Talos nodes with Kubernetes up and Ready (a stand-in CNI), and the
lab's file server with the fixture of Flux's install manifest (flux_lab.py)."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab_fixtures import stop_with_directory  # noqa: E402
from flux_lab import CNI, CONTROL_PLANES_AND_WORKERS, FluxLab, api_client, wait_for  # noqa: E402


@pytest.fixture(scope='session')
def flux_lab():
    if os.geteuid() != 0:
        pytest.skip('the Talos node simulator needs root (network namespaces)')
    lab = FluxLab()
    started = time.monotonic()
    try:
        lab.up()
        lab.talos = lab.bring_up()
        path = os.path.join(lab.state_dir, 'talos-kubeconfig')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(lab.talos.kubeconfig())
        lab.kubeconfig = path
        from kubernetes import client as k8s, utils  # pylint: disable=import-outside-toplevel
        api = api_client(path)
        core = k8s.CoreV1Api(api)
        wait_for(lambda: len(core.list_node().items) == len(CONTROL_PLANES_AND_WORKERS), 120, 0.5, 'five nodes registered')
        utils.create_from_dict(api, CNI)
        wait_for(lambda: all(any(c.type == 'Ready' and c.status == 'True' for c in n.status.conditions or ())
                             for n in core.list_node().items), 120, 0.5, 'every node Ready')
        lab.flux_env = lab.start_files()
        lab.up_seconds = time.monotonic() - started
    except BaseException:
        lab.stop_files()
        lab.down()
        raise
    stop = stop_with_directory(__file__, lambda: (lab.stop_files(), lab.down()))
    yield lab
    stop()


@pytest.fixture(scope='session')
def k8s_api(flux_lab):
    return api_client(flux_lab.kubeconfig)


@pytest.fixture(scope='session')
def pve_stand_in():
    """A Proxmox VE stand-in of this suite's own (two nodes in cluster ``lab``), stopped after the folder's last test."""
    from pve_stand_in import PveStandIn  # pylint: disable=import-outside-toplevel
    served = PveStandIn()
    stop = stop_with_directory(__file__, served.stop)
    yield served
    stop()
