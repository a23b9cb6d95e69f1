# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd's quorum as the gate of every play that changes the cluster judges it (talos_etcd_info require_quorum)."""

from __future__ import annotations

from ansible_collections.hybridops.talos.plugins.module_utils._talos.etcd import quorum, quorum_lost_message, quorum_warning

MEMBERS = [dict(id='a1', hostname='home-cp-0'), dict(id='b2', hostname='vps-0'), dict(id='c3', hostname='vps-1')]


def status(member_id, leader='b2', errors=()):
    return dict(member_id=member_id, leader=leader, errors=list(errors))


def test_every_member_answering_holds_the_quorum_with_none_down():
    state = quorum({'10.0.0.1': status('a1'), '10.0.0.2': status('b2'), '10.0.0.3': status('c3')}, MEMBERS)
    assert state == dict(members=3, needed=2, answering=['home-cp-0', 'vps-0', 'vps-1'], down=[], held=True)
    assert quorum_warning(state) is None


def test_one_member_down_of_three_holds_the_quorum_and_warns_by_name():
    state = quorum({'10.0.0.1': status('a1'), '10.0.0.2': status('b2'), '10.0.0.3': dict(error='cannot connect')}, MEMBERS)
    assert state['held'] is True and state['down'] == ['vps-1']
    assert quorum_warning(state) == ('etcd member vps-1 does not answer: 2 of 3 members answer and the quorum of 2 holds, '
                                     'one more loss stops every change; bring it back or replace it (docs/day2.md).')


def test_two_members_down_of_three_lose_the_quorum_and_point_at_restore():
    # The member left sees no leader (0) and says so in its errors: it does not count as answering.
    state = quorum({'10.0.0.1': dict(error='cannot connect'), '10.0.0.2': status('b2', leader='0', errors=['no leader']),
                    '10.0.0.3': dict(error='cannot connect')}, MEMBERS)
    assert state == dict(members=3, needed=2, answering=[], down=['home-cp-0', 'vps-0', 'vps-1'], held=False)
    state = quorum({'10.0.0.1': dict(error='cannot connect'), '10.0.0.2': status('b2', leader='0'),
                    '10.0.0.3': dict(error='cannot connect')}, MEMBERS)
    assert state['answering'] == ['vps-0'] and state['down'] == ['home-cp-0', 'vps-1'] and state['held'] is False
    message = quorum_lost_message(state)
    assert message.startswith('etcd has lost its quorum: 1 of 3 members answer (vps-0), 2 are needed, and home-cp-0 and '
                              'vps-1 do not answer')
    assert 'playbooks/restore.yml' in message and message.count('.') >= 1 and '\n' not in message
    assert 'so no consistent snapshot can be taken and no set was made: bring them back' in quorum_lost_message(
        state, 'no consistent snapshot can be taken and no set was made')


def test_a_majority_that_sees_two_leaders_does_not_hold_the_quorum():
    state = quorum({'10.0.0.1': status('a1', leader='a1'), '10.0.0.2': status('b2', leader='b2'), '10.0.0.3': status('c3')},
                   MEMBERS)
    assert state['held'] is False and state['down'] == []
    assert quorum_lost_message(state).startswith('etcd has no quorum: its 3 members answer but do not agree on one leader, so '
                                                 'Kubernetes accepts no change')


def test_five_members_with_one_down_survive_one_more_loss():
    members = MEMBERS + [dict(id='d4', hostname='home-cp-1'), dict(id='e5', hostname='')]
    statuses = {str(i): status(m['id']) for i, m in enumerate(members[:4])}
    state = quorum(statuses, members)
    assert state['needed'] == 3 and state['down'] == ['e5'] and state['held'] is True
    assert 'it survives 1 more loss;' in quorum_warning(state)
