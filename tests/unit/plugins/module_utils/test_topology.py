"""etcd quorum arithmetic and the failure-mode table (pure logic)."""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils import _topology as topo

ETCD_TOLERANCE = {1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 6: 2, 7: 3}  # etcd's FAQ table
SEED = [
    {'name': 'vps-0', 'role': 'controlplane', 'site': 'vps'},
    {'name': 'vps-1', 'role': 'controlplane', 'site': 'vps'},
    {'name': 'home-cp-0', 'role': 'controlplane', 'site': 'home'},
    {'name': 'home-w-0', 'role': 'worker', 'site': 'home'},
    {'name': 'home-w-1', 'role': 'worker', 'site': 'home'},
]


def cps(count, site='a'):
    return [{'name': 'cp-%d' % i, 'role': 'controlplane', 'site': site} for i in range(count)]


def row(result, scenario):
    return next(r for r in result['failure_modes'] if r['scenario'] == scenario)


@pytest.mark.parametrize('members,tolerated', sorted(ETCD_TOLERANCE.items()))
def test_tolerated_failures_match_etcd_table(members, tolerated):
    assert topo.tolerated_failures(members) == tolerated
    assert topo.quorum(members) == members // 2 + 1


@pytest.mark.parametrize('members', range(1, 8))
def test_every_member_count_analysed_with_allow_unsafe(members):
    result = topo.analyse(cps(members), allow_unsafe=True)
    assert result['etcd_members'] == members
    assert result['tolerated_failures'] == ETCD_TOLERANCE[members]
    assert bool(result['warnings']) == (members % 2 == 0)
    # Losing one member keeps quorum exactly when etcd tolerates at least one failure.
    assert row(result, 'node cp-0 down')['etcd_quorum'] == (ETCD_TOLERANCE[members] >= 1)


@pytest.mark.parametrize('members', [2, 4, 6])
def test_even_member_count_refused_with_numbers(members):
    with pytest.raises(topo.TopologyError, match=r'%d control planes is an even number: quorum is %d'
                       % (members, members // 2 + 1)):
        topo.analyse(cps(members))


def test_zero_and_eight_members_refused():
    with pytest.raises(topo.TopologyError, match='0 control planes'):
        topo.analyse([{'name': 'w', 'role': 'worker', 'site': 'a'}])
    with pytest.raises(topo.TopologyError, match='8 control planes is more than 7'):
        topo.analyse(cps(8))
    assert topo.analyse(cps(8), allow_unsafe=True)['tolerated_failures'] == 3


def test_seed_topology_rows():
    result = topo.analyse(SEED, ingress_sites=['vps'])
    assert (result['etcd_members'], result['quorum'], result['tolerated_failures']) == (3, 2, 1)
    for name in ('vps-0', 'vps-1'):
        r = row(result, 'node %s down' % name)
        assert (r['etcd_members_up'], r['etcd_quorum'], r['kubernetes_api'], r['ingress']) == (2, True, True, True)
    vps = row(result, 'site vps down')
    assert vps['nodes_down'] == ['vps-0', 'vps-1']
    assert (vps['etcd_members_up'], vps['etcd_quorum'], vps['kubernetes_api'], vps['ingress']) == (1, False, False, False)
    assert 'loses quorum: 1 of 3' in vps['notes']
    home = row(result, 'site home down')
    assert home['nodes_down'] == ['home-cp-0', 'home-w-0', 'home-w-1']
    assert (home['etcd_members_up'], home['etcd_quorum'], home['ingress']) == (2, True, True)
    assert 'must be rescheduled' in home['notes']
    assert len(result['failure_modes']) == len(SEED) + 2


def test_worker_down_keeps_everything():
    r = row(topo.analyse(SEED, ingress_sites=['vps']), 'node home-w-0 down')
    assert (r['etcd_members_up'], r['etcd_quorum'], r['ingress']) == (3, True, True)


def test_without_ingress_sites_ingress_follows_any_node():
    result = topo.analyse(cps(1))
    assert row(result, 'node cp-0 down')['ingress'] is False
    assert row(result, 'site a down')['ingress'] is False
    assert row(topo.analyse(SEED), 'site vps down')['ingress'] is True


@pytest.mark.parametrize('nodes,message', [
    ([], 'nodes is empty'),
    (None, 'nodes is empty'),
    (['vps-0'], r'nodes\[0\] is not a mapping'),
    ([{'role': 'worker', 'site': 'a'}], r'nodes\[0\] has no name'),
    ([{'name': 'a', 'site': 'a'}], 'node a has no role'),
    ([{'name': 'a', 'role': 'master', 'site': 'a'}], "node a has unknown role 'master'"),
    ([{'name': 'a', 'role': 'controlplane'}], 'node a has no site'),
    ([{'name': 'a', 'role': 'controlplane', 'site': ' '}], 'node a has no site'),
    (cps(1) + cps(1), 'node name cp-0 appears more than once'),
])
def test_bad_input_named(nodes, message):
    with pytest.raises(topo.TopologyError, match=message):
        topo.analyse(nodes)


def test_unknown_ingress_site_named():
    with pytest.raises(topo.TopologyError, match='ingress site cloud has no node'):
        topo.analyse(SEED, ingress_sites=['cloud'])


def test_render_table_lines():
    lines = topo.render_table(topo.analyse(SEED, ingress_sites=['vps']))
    assert lines[0].split() == ['scenario', 'etcd', 'quorum', 'api', 'ingress']
    assert lines[-2].split() == ['site', 'home', 'down', '2/3', 'kept', 'up', 'up']
    assert lines[-1].split() == ['site', 'vps', 'down', '1/3', 'LOST', 'DOWN', 'DOWN']
