"""Upgrade decisions as pure logic: the version an installer image carries, how versions compare, what to do,
and how the wait tells a reboot into the new version from a rollback and from a node that never went away."""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.upgrade import (
    decide, image_version, parse_version, wait_for_return)

SCHEMATIC = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'


@pytest.mark.parametrize('image, tag', [
    ('ghcr.io/siderolabs/installer:v1.9.7', 'v1.9.7'),
    ('factory.talos.dev/installer/%s:v1.9.7' % SCHEMATIC, 'v1.9.7'),
    ('factory.talos.dev/metal-installer/%s:v1.10.0-beta.1' % SCHEMATIC, 'v1.10.0-beta.1'),
    ('registry.example.net:5000/mirror/siderolabs/installer:v1.9.7@sha256:' + 'ab' * 32, 'v1.9.7'),
    ('  ghcr.io/siderolabs/installer:v1.13.9  ', 'v1.13.9'),
])
def test_the_version_is_the_tag_of_the_image(image, tag):
    assert image_version(image) == tag


@pytest.mark.parametrize('image', [
    'ghcr.io/siderolabs/installer',  # no tag: the node would get "latest", which we could not check afterwards
    'ghcr.io/siderolabs/installer:latest',
    'ghcr.io/siderolabs/installer:1.9.7',  # Talos tags carry the v
    'ghcr.io/siderolabs/installer@sha256:' + 'ab' * 32,
    'installer:v1.9.7',  # no registry or repository path
    'ghcr.io/siderolabs/installer:v1.9',
    '',
])
def test_an_image_without_a_version_tag_is_refused_as_bad_input(image):
    with pytest.raises(ModuleError) as caught:
        image_version(image)
    assert caught.value.reason == 'bad_input'


def test_versions_sort_as_releases_do():
    ordered = ['v1.9.6', 'v1.9.7', 'v1.10.0-alpha.0', 'v1.10.0-alpha.2', 'v1.10.0-alpha.10', 'v1.10.0-beta.0', 'v1.10.0',
               'v1.10.1', 'v2.0.0']
    assert sorted(ordered, key=parse_version) == ordered
    assert sorted(reversed(ordered), key=parse_version) == ordered
    assert parse_version('v1.9.7') == parse_version('v1.9.7') and parse_version('1.9.7') is None


def test_the_decision_is_none_at_the_target_and_a_downgrade_needs_consent():
    assert decide('v1.9.7', 'v1.9.7') == 'none'
    assert decide('v1.9.6', 'v1.9.7') == 'upgrade'
    assert decide('v1.9.6', 'v1.10.0') == 'upgrade'
    with pytest.raises(ModuleError) as caught:
        decide('v1.10.0', 'v1.9.7')
    assert caught.value.reason == 'downgrade_refused' and 'allow_downgrade' in caught.value.message
    assert decide('v1.10.0', 'v1.9.7', allow_downgrade=True) == 'downgrade'
    with pytest.raises(ModuleError) as caught:
        decide('main-abcdef', 'v1.9.7')
    assert caught.value.reason == 'unexpected_version'


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class _Node:
    """A node's answers to Version over time: a list of versions, or None for 'not serving'."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.retry = None

    def version(self):
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer is None:
            raise TalosApiError('unreachable', 'cannot connect to 192.0.2.1:50000: Connection refused', node='n', call='Version')

        class _Reply:
            class version:  # noqa: N801 - the shape of machine.Version
                tag = answer
        return _Reply


def test_the_wait_sees_the_node_go_away_and_come_back():
    clock = _Clock()
    version, duration = wait_for_return(_Node(['v1.9.6', None, None, 'v1.9.7']), 'n', 'v1.9.6', 'v1.9.7', 60,
                                        clock=clock, sleep=clock.sleep)
    assert version == 'v1.9.7' and duration > 0


def test_a_node_back_at_its_old_version_after_going_away_is_reported_as_such():
    clock = _Clock()
    version, _duration = wait_for_return(_Node(['v1.9.6', None, 'v1.9.6']), 'n', 'v1.9.6', 'v1.9.7', 60,
                                         clock=clock, sleep=clock.sleep)
    assert version == 'v1.9.6'


def test_a_node_that_never_goes_away_times_out_naming_what_was_awaited():
    clock = _Clock()
    with pytest.raises(ModuleError) as caught:
        wait_for_return(_Node(['v1.9.6']), 'n', 'v1.9.6', 'v1.9.7', 30, clock=clock, sleep=clock.sleep)
    assert caught.value.reason == 'timeout'
    assert caught.value.message.startswith('Upgrade of node n to v1.9.7 did not finish within 30 seconds')
    assert 'to go down for the reboot' in caught.value.message


def test_a_node_that_stays_away_times_out_waiting_for_it_to_come_back():
    clock = _Clock()
    with pytest.raises(ModuleError) as caught:
        wait_for_return(_Node(['v1.9.6', None]), 'n', 'v1.9.6', 'v1.9.7', 30, clock=clock, sleep=clock.sleep)
    assert 'to come back' in caught.value.message and 'Connection refused' in caught.value.message


def test_a_node_that_refuses_us_ends_the_wait_at_once():
    class _Refusing(_Node):
        def version(self):
            raise TalosApiError('permission_denied', 'the node refused it', node='n', call='Version', status='PERMISSION_DENIED')
    clock = _Clock()
    with pytest.raises(ModuleError) as caught:
        wait_for_return(_Refusing(['x']), 'n', 'v1.9.6', 'v1.9.7', 30, clock=clock, sleep=clock.sleep)
    assert caught.value.reason == 'permission_denied' and clock.now == 0.0
