"""Workload faults: ``python -m lab fault workload NAMESPACE/NAME --mode crash|fail|pending``; ``heal`` clears them.

| mode | effect |
|---|---|
| ``crash`` | the workload's containers exit 1 as they start: pods CrashLoopBackOff, restart counts grow, never Ready |
| ``fail`` | run-to-completion containers (Jobs) exit 1: the Job fails once its backoffLimit is used up |
| ``pending`` | the scheduler finds no room: pods stay Pending, "0/N nodes are available: N Insufficient cpu" |

``python -m lab fault kubelet-notready NODE``: once the node's kubelet runs another Kubernetes version than the one
it started with (its kubelet image changed in the machine config), it reports Ready=False, as a kubelet that does not
come back healthy after an upgrade would.

A workload is named by its top-level owner: a Deployment, DaemonSet, Job (or a bare Pod) in its
namespace. The faults are a file in the lab directory (``kube-faults.json``) that the kubelets and the
scheduler read; pods already running keep running under ``pending`` (as on a real cluster).
"""
import json
import os

from .. import state

FILE = 'kube-faults.json'
MODES = ('crash', 'fail', 'pending')


def path(state_dir=None):
    return state.path(FILE, state_dir=state_dir)


def read(state_dir):
    try:
        with open(os.path.join(state_dir, FILE), encoding='utf-8') as handle:
            return json.load(handle).get('faults') or []
    except (OSError, ValueError):
        return []


def add(namespace, name, mode, state_dir=None):
    faults = [f for f in read(state_dir or state.STATE_DIR) if (f.get('namespace'), f.get('name')) != (namespace, name)]
    faults.append({'namespace': namespace, 'name': name, 'mode': mode})
    state.write_json(FILE, {'faults': faults}, state_dir=state_dir)


def add_node(node, mode, state_dir=None):
    faults = [f for f in read(state_dir or state.STATE_DIR) if f.get('node') != node]
    faults.append({'node': node, 'mode': mode})
    state.write_json(FILE, {'faults': faults}, state_dir=state_dir)


def node_mode(node, faults):
    return next((f['mode'] for f in faults if f.get('node') == node), None)


def clear(state_dir=None):
    try:
        os.remove(path(state_dir))
        return True
    except OSError:
        return False


def workload_of(pod):
    """(namespace, top-level owner name) of a pod: ReplicaSet owners map to their Deployment by the
    pod-template-hash suffix, as the Deployment controller names them."""
    meta = pod.get('metadata') or {}
    owner = next((o for o in meta.get('ownerReferences') or () if o.get('controller')), None)
    if owner is None:
        return meta.get('namespace'), meta.get('name')
    name = owner.get('name', '')
    template_hash = (meta.get('labels') or {}).get('pod-template-hash')
    if owner.get('kind') == 'ReplicaSet' and template_hash and name.endswith('-' + template_hash):
        name = name[:-len(template_hash) - 1]
    return meta.get('namespace'), name


def mode_for(pod, faults):
    target = workload_of(pod)
    return next((f['mode'] for f in faults if 'node' not in f and (f['namespace'], f['name']) == target), None)


def add_parser(kinds):
    parser = kinds.add_parser('workload', help='make a Kubernetes workload crash, fail or stay Pending (docs/lab-kube.md)')
    parser.add_argument('target', metavar='NAMESPACE/NAME', help='the Deployment, DaemonSet, Job or Pod')
    parser.add_argument('--mode', choices=MODES, required=True)
    notready = kinds.add_parser('kubelet-notready', help='the node reports NotReady once its kubelet image changes (docs/lab-kube.md)')
    notready.add_argument('node')


def run(args):
    namespace, _sep, name = args.target.rpartition('/')
    if not name:
        raise SystemExit('lab: name the workload as NAMESPACE/NAME')
    add(namespace or 'default', name, args.mode)
