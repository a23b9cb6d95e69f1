"""Cilium's values and install manifest, and the evidence rule that decides whether the configs carry it."""
import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils import _cilium
from ansible_collections.hybridops.talos.plugins.module_utils._cilium_plan import Evidence, PlanError, decide, manifest_of


def job(manifest):
    return [doc for doc in yaml.safe_load_all(manifest['contents']) if doc['kind'] == 'Job'][0]


def test_the_manifest_is_talos_job_method_with_the_design_values():
    manifest = _cilium.manifest(mtu=1370)
    assert manifest['name'] == 'cilium-install'
    kinds = [doc['kind'] for doc in yaml.safe_load_all(manifest['contents'])]
    assert kinds == ['ServiceAccount', 'ClusterRoleBinding', 'Job']
    spec = job(manifest)['spec']['template']['spec']
    assert spec['hostNetwork'] is True and spec['tolerations'] == [{'operator': 'Exists'}]
    term = spec['affinity']['nodeAffinity']['requiredDuringSchedulingIgnoredDuringExecution']['nodeSelectorTerms'][0]
    assert term['matchExpressions'][0]['key'] == 'node-role.kubernetes.io/control-plane'
    command = spec['containers'][0]['command']
    assert command[:3] == ['cilium', 'install', '--version=%s' % _cilium.VERSION]
    for setting in ('MTU=1370', 'tunnelProtocol=vxlan', 'routingMode=tunnel', 'k8sServiceHost=localhost', 'k8sServicePort=7445',
                    'kubeProxyReplacement=true', 'ipam.mode=kubernetes', 'cgroup.autoMount.enabled=false'):
        assert setting in command, setting
    assert spec['containers'][0]['image'] == _cilium.CLI_IMAGE and not _cilium.CLI_IMAGE.endswith(':latest')


def test_the_same_inputs_render_the_same_text():
    assert _cilium.manifest(mtu=1420, extra={'hubble.enabled': True}) == _cilium.manifest(mtu=1420, extra={'hubble': {'enabled': True}})


@pytest.mark.parametrize('extra, words', [
    ({'tunnelProtocol': 'geneve'}, 'tunnelProtocol cannot be set here'),
    ({'MTU': 1500}, 'MTU cannot be set here'),
    ({'bpf.masquerade': True}, 'breaks CoreDNS'),
    ({'hubble.enabled': None}, 'has no value'),
    ({'a..b': 1}, 'is not a value name'),
    ({'ipam': {'operator': [{'x': 1}]}}, 'list of plain values'),
])
def test_values_the_design_fixes_or_cannot_carry_are_refused(extra, words):
    with pytest.raises(_cilium.CiliumError) as caught:
        _cilium.manifest(mtu=1420, extra=extra)
    assert words in str(caught.value) and caught.value.option == 'cilium.values'


@pytest.mark.parametrize('kwargs, option', [
    ({'version': 'latest'}, 'cilium.version'),
    ({'cli_image': 'quay.io/cilium/cilium-cli:latest'}, 'cilium.cli_image'),
    ({'cli_image': 'quay.io/cilium/cilium-cli'}, 'cilium.cli_image'),
    ({'mtu': 9500}, 'cilium.mtu'),
])
def test_unpinned_versions_and_impossible_mtus_are_refused(kwargs, option):
    with pytest.raises(_cilium.CiliumError) as caught:
        _cilium.manifest(**dict({'mtu': 1420}, **kwargs))
    assert caught.value.option == option


def test_strings_stay_strings_and_commas_are_escaped():
    args = _cilium.set_arguments({'a': 'true', 'b': True, 'c': 'x,y', 'd': [1, 2]})
    assert args == ['--set-string', 'a=true', '--set', 'b=true', '--set-string', 'c=x\\,y', '--set', 'd={1,2}']


def test_differences_name_each_value_that_changed():
    before = _cilium.manifest(mtu=1420)['contents']
    after = _cilium.manifest(mtu=1370, extra={'hubble.enabled': True})['contents']
    assert _cilium.differences(before, after) == ['MTU: 1420 -> 1370', 'hubble.enabled: (unset) -> true']


# ---------------------------------------------------------------------------- the evidence rule

WANTED = _cilium.manifest(mtu=1420)['contents']


def evidence(**kwargs):
    found = dict(carriers=[], configured=[], maintenance=[], unreachable=[], running_contents=None, cilium_daemonset=False,
                 kubernetes_error=None, helm_release=None)
    found.update(kwargs)
    return Evidence(**found)


def test_a_fresh_cluster_gets_the_manifest():
    install, by, reason = decide('auto', evidence(maintenance=['a', 'b']), WANTED)
    assert install is True and by is None and 'new cluster' in reason


def test_our_manifest_in_a_running_config_is_kept_even_though_cilium_runs():
    install, by, _reason = decide('auto', evidence(carriers=['a'], configured=['a'], running_contents=WANTED, cilium_daemonset=True),
                                  WANTED)
    assert install is True and by == 'hybridops.talos'


def test_a_cilium_of_someone_else_is_left_alone():
    install, by, reason = decide('auto', evidence(configured=['a'], cilium_daemonset=True, helm_release='kube-system/cilium'), WANTED)
    assert install is False and by == 'other' and 'left alone' in reason and 'kube-system/cilium' in reason


def test_a_running_cluster_without_any_cilium_gets_the_manifest():
    install, _by, reason = decide('auto', evidence(configured=['a']), WANTED)
    assert install is True and 'Talos applies it' in reason


def test_a_changed_manifest_is_refused_with_the_differences():
    running = _cilium.manifest(mtu=1370)['contents']
    with pytest.raises(PlanError) as caught:
        decide('auto', evidence(carriers=['a'], configured=['a'], running_contents=running), WANTED)
    assert caught.value.reason == 'cilium_changed' and 'MTU: 1370 -> 1420' in str(caught.value) and 'Flux' in str(caught.value)


@pytest.mark.parametrize('kwargs', [dict(unreachable=['a']), dict(configured=['a'], kubernetes_error='connection refused')])
def test_no_guess_when_the_evidence_is_missing(kwargs):
    with pytest.raises(PlanError) as caught:
        decide('auto', evidence(**kwargs), WANTED)
    assert caught.value.reason == 'cilium_evidence_missing'


def test_never_and_always_decide_unless_a_running_manifest_says_otherwise():
    assert decide('never', evidence(configured=['a'], cilium_daemonset=True), WANTED)[0] is False
    assert decide('always', evidence(configured=['a'], cilium_daemonset=True), WANTED)[0] is True


def test_the_manifest_is_found_in_a_running_config():
    config = yaml.safe_dump_all([{'version': 'v1alpha1', 'cluster': {'inlineManifests': [dict(_cilium.manifest(mtu=1420))]}},
                                 {'kind': 'HostnameConfig'}])
    assert manifest_of(config, yaml) == WANTED
    assert manifest_of(yaml.safe_dump({'cluster': {}}), yaml) is None
