"""etcd as the modules judge it (pure logic): health, started members, and whether to bootstrap.

Bootstrapping twice makes a second etcd cluster, so every branch of the decision has a test: etcd
runs on no control plane and the target waits; etcd runs elsewhere; a control plane is unreachable,
with and without allow_unreachable; one answers with a TLS failure (or another answer that proves
nothing); the target itself cannot be read or is in maintenance mode; and the ALREADY_EXISTS race.
"""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError
from ansible_collections.hybridops.talos.plugins.module_utils._talos import etcd
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError


def member(mid, name, learner=False, started=True):
    urls = ['https://192.0.2.%d:2379' % (ord(mid[0]) % 200)] if started else []
    return {'id': mid, 'hostname': name if started else '', 'peer_urls': ['https://192.0.2.9:2380'], 'client_urls': urls,
            'is_learner': learner}


def status(mid, leader='a', errors=()):
    return {'member_id': mid, 'leader': leader, 'errors': list(errors)}


MEMBERS = [member('a', 'vps-0'), member('b', 'vps-1'), member('c', 'home-cp-0')]


def test_three_members_one_leader_is_healthy():
    assert etcd.health({'n0': status('a'), 'n1': status('b'), 'n2': status('c')}, MEMBERS) == (True, [])


@pytest.mark.parametrize('statuses,members,problem', [
    ({'n0': status('a'), 'n1': status('b')}, MEMBERS, 'member home-cp-0 (c) gave no status'),
    ({'n0': status('a'), 'n1': status('b'), 'n2': {'error': 'unreachable'}}, MEMBERS, 'n2: unreachable'),
    ({'n0': status('a'), 'n1': status('b', leader='b'), 'n2': status('c')}, MEMBERS, 'the members see 2 leaders'),
    ({'n0': status('a', leader='0')}, MEMBERS[:1], 'the members see 0 leaders (none)'),
    ({'n0': status('a', errors=['NOSPACE'])}, MEMBERS[:1], 'n0 reports NOSPACE'),
    ({'n0': status('a'), 'n1': status('b')}, MEMBERS[:1] + [member('b', 'vps-1', learner=True)], 'learners not promoted yet: vps-1'),
])
def test_each_unhealthy_case_is_named(statuses, members, problem):
    healthy, problems = etcd.health(statuses, members)
    assert not healthy
    assert any(problem in p for p in problems), problems


def test_a_member_added_but_not_started_is_not_healthy():
    # etcd lists a member it added (MemberAdd) with no name and no client URLs until that member runs.
    members = MEMBERS[:2] + [member('c', 'home-cp-0', started=False)]
    statuses = {'n0': status('a'), 'n1': status('b'), 'n2': status('c')}
    healthy, problems = etcd.health(statuses, members)
    assert not healthy
    assert problems[0] == 'member c has not started yet (added, but without a name)'
    named_without_urls = dict(member('c', 'home-cp-0'), client_urls=[])
    assert not etcd.started(named_without_urls) and etcd.started(MEMBERS[0])
    assert 'member home-cp-0 has not started yet (added, but without client URLs)' in etcd.health(
        statuses, MEMBERS[:2] + [named_without_urls])[1]


# --- what a control plane shows about etcd ---------------------------------------------------------

def api_error(reason, node='cp', status=None):
    return TalosApiError(reason, 'it failed with %s' % reason, node=node, call='EtcdMemberList', status=status)


class FakeClient:
    """The two answers look() asks for: the member list, and the etcd service state when that fails."""

    def __init__(self, members=None, error=None, state=None):
        self.members, self.error, self.state = members, error, state

    def etcd_member_list(self):
        if self.error is not None:
            raise self.error

        class Reply:
            pass
        reply = Reply()
        reply.members = self.members or []
        return reply

    def service_list(self):
        class Service:
            id = 'etcd'
            state = self.state
        return [Service()] if self.state else []


@pytest.mark.parametrize('client,kind', [
    (FakeClient(error=api_error('maintenance_mode')), 'no_etcd'),
    (FakeClient(error=api_error('wrong_ca')), 'no_etcd'),
    (FakeClient(error=api_error('not_control_plane')), 'no_etcd'),
    (FakeClient(error=api_error('failed_precondition', status='FAILED_PRECONDITION'), state='Preparing'), 'waiting'),
    (FakeClient(error=api_error('unreachable')), 'unreachable'),
    (FakeClient(error=api_error('tls_error')), 'unknown'),
    (FakeClient(error=api_error('hostname_mismatch')), 'unknown'),
    (FakeClient(error=api_error('server_cert_invalid')), 'unknown'),
    (FakeClient(error=api_error('permission_denied')), 'unknown'),
    (FakeClient(error=api_error('failed_precondition', status='FAILED_PRECONDITION'), state='Failed'), 'unknown'),
])
def test_only_positive_evidence_counts_as_no_etcd(client, kind):
    assert etcd.look('cp', client).kind == kind


def seen(node, kind, reason=None):
    members = [member('a', node)] if kind == 'members' else []
    error = api_error(reason or {'no_etcd': 'maintenance_mode', 'unreachable': 'unreachable', 'unknown': 'tls_error'}.get(kind),
                      node=node) if kind in ('no_etcd', 'unreachable', 'unknown') else None
    return etcd.Seen(node, kind, members, error)


# --- bootstrap_decision: one test per branch -------------------------------------------------------

def test_nothing_runs_etcd_and_the_target_waits_so_it_bootstraps():
    others = [seen('cp1', 'no_etcd'), seen('cp2', 'waiting'), seen('cp3', 'no_etcd', 'wrong_ca')]
    decision = etcd.bootstrap_decision(seen('cp0', 'waiting'), others, 'Preparing')
    assert decision.action == 'bootstrap' and decision.unreachable == [] and decision.error is None


def test_etcd_running_on_the_target_is_done():
    decision = etcd.bootstrap_decision(seen('cp0', 'members'), [seen('cp1', 'unknown')], 'Running')
    assert (decision.action, decision.by) == ('done', 'cp0') and decision.members[0]['hostname'] == 'cp0'


def test_etcd_running_elsewhere_is_done_whatever_the_others_say():
    decision = etcd.bootstrap_decision(seen('cp0', 'waiting'), [seen('cp1', 'unreachable'), seen('cp2', 'members')], 'Preparing')
    assert (decision.action, decision.by, decision.unreachable) == ('done', 'cp2', ['cp1'])


def test_an_unreachable_control_plane_refuses_without_allow_unreachable():
    decision = etcd.bootstrap_decision(seen('cp0', 'waiting'), [seen('cp1', 'unreachable'), seen('cp2', 'no_etcd')], 'Preparing')
    assert decision.action == 'refuse' and decision.unreachable == ['cp1']
    assert decision.error.reason == 'bootstrap_refused' and decision.error.call == 'Bootstrap' and decision.error.node == 'cp0'
    assert 'the control planes cp1 could not be asked' in decision.error.message


def test_an_unreachable_control_plane_is_accepted_with_allow_unreachable():
    decision = etcd.bootstrap_decision(seen('cp0', 'waiting'), [seen('cp1', 'unreachable')], 'Preparing', allow_unreachable=True)
    assert decision.action == 'bootstrap' and decision.unreachable == ['cp1']


@pytest.mark.parametrize('reason', ['tls_error', 'hostname_mismatch', 'server_cert_invalid', 'client_cert_rejected',
                                    'permission_denied', 'timeout', 'unavailable'])
def test_an_answer_that_proves_nothing_refuses_even_with_allow_unreachable(reason):
    decision = etcd.bootstrap_decision(seen('cp0', 'waiting'), [seen('cp1', 'unknown', reason)], 'Preparing',
                                       allow_unreachable=True)
    assert decision.action == 'refuse'
    assert decision.error.failure['cause']['reason'] == reason and decision.error.failure['cause']['node'] == 'cp1'
    assert decision.error.message.startswith('Refusing to bootstrap etcd on cp0: control plane cp1 could not show whether it '
                                             'runs etcd (it failed with %s)' % reason)


def test_a_target_that_cannot_be_read_refuses_with_its_own_failure():
    target = seen('cp0', 'unknown', 'tls_error')
    decision = etcd.bootstrap_decision(target, [], None)
    assert decision.action == 'refuse' and decision.error is target.error


def test_a_target_in_maintenance_mode_refuses():
    decision = etcd.bootstrap_decision(seen('cp0', 'no_etcd'), [], None)
    assert decision.action == 'refuse' and 'it shows no etcd of this cluster' in decision.error.message


@pytest.mark.parametrize('state', ['Running', 'Failed', None])
def test_a_target_whose_etcd_does_not_wait_refuses(state):
    decision = etcd.bootstrap_decision(seen('cp0', 'waiting'), [], state)
    assert decision.action == 'refuse' and 'not waiting for bootstrap' in decision.error.message


def test_already_exists_is_the_bootstrap_race_and_nothing_else_is():
    assert etcd.lost_bootstrap_race(api_error('already_exists', status='ALREADY_EXISTS'))
    assert not etcd.lost_bootstrap_race(api_error('failed_precondition', status='FAILED_PRECONDITION'))
    assert not etcd.lost_bootstrap_race(ModuleError('bad_input', 'no'))


# --- bootstrapped: the apply stage's question ------------------------------------------------------

def test_bootstrapped_is_true_when_one_lists_members():
    assert etcd.bootstrapped([seen('cp0', 'unknown'), seen('cp1', 'members')]) is True


def test_bootstrapped_is_false_only_on_evidence_from_every_control_plane():
    assert etcd.bootstrapped([seen('cp0', 'no_etcd'), seen('cp1', 'waiting'), seen('cp2', 'no_etcd', 'wrong_ca')]) is False


def test_bootstrapped_is_unknown_when_one_cannot_be_reached():
    assert etcd.bootstrapped([seen('cp0', 'no_etcd'), seen('cp1', 'unreachable')]) is None


def test_bootstrapped_raises_the_failure_of_an_answer_that_proves_nothing():
    entries = [seen('cp0', 'no_etcd'), seen('cp1', 'unknown', 'tls_error')]
    with pytest.raises(TalosApiError) as caught:
        etcd.bootstrapped(entries)
    assert caught.value is entries[1].error
