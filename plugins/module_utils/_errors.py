# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way every module of the collection fails.

A failed module returns ``msg``, one sentence naming the node, the call and the cause; ``failure``,
the same facts as data (``reason``, ``node``, ``call``, ``status``, ``message`` and details of the
case); and ``exception``, the traceback Ansible shows with ``-vvv``. Every module's ``main()`` ends
in :func:`run`, whose only way out on an error is :func:`fail`. Neither ever holds a secret value.
"""

from __future__ import annotations

import traceback


class ModuleError(Exception):
    """Something a module could not do.

    ``reason`` is a short stable code (``wrong_ca``, ``bad_input``, ``missing_file`` ...) that tasks
    and tests may branch on; ``why`` the human cause; ``node`` and ``call`` what it was about, when
    it was about a node; ``status`` the gRPC status when a server answered with one. ``details`` go
    into ``failure`` beside them; ``result`` holds result keys to return beside ``msg`` (a partial
    result, such as the report of an unhealthy mesh); ``sentence`` replaces the composed message when
    the caller words it better (it must still name the node and the call).
    """

    def __init__(self, reason, why, node=None, call=None, status=None, result=None, sentence=None, **details):
        self.reason = reason
        self.sentence = sentence
        self.why = why
        self.node = node
        self.call = call
        self.status = status
        self.result = dict(result or {})
        self.details = details
        super().__init__(self.message)

    @property
    def message(self):
        """``why`` as one sentence, prefixed with the call and the node when they are known."""
        if self.sentence:
            return self.sentence
        why = str(self.why)
        sentence = why if why.endswith(('.', '?', '!')) else why + '.'
        if self.call and self.node:
            return '%s on node %s failed: %s' % (self.call, self.node, sentence)
        if self.node:
            return 'Node %s: %s' % (self.node, sentence)
        return sentence

    @property
    def failure(self):
        found = dict(reason=self.reason, node=self.node, call=self.call, status=self.status, message=str(self.why))
        found.update(self.details)
        return found

    def __str__(self):
        return self.message


def fail(module, error, **result):
    """End ``module`` with ``error``'s message, its ``failure`` and the traceback; ``result`` adds keys."""
    if not isinstance(error, ModuleError):
        error = ModuleError('internal', '%s: %s' % (type(error).__name__, error))
    keys = dict(error.result, **result)
    # A failed import is best explained by its own traceback (see _requires.py).
    trace = getattr(error, 'trace', None) or ''.join(traceback.format_exception(type(error), error, error.__traceback__))
    module.fail_json(msg=error.message, failure=error.failure, exception=trace, **keys)


def run(module, body):
    """The end of every module's ``main()``: ``body(module)`` returns the result, or raises ModuleError."""
    try:
        result = body(module)
    except ModuleError as error:
        fail(module, error)
    module.exit_json(**result)
