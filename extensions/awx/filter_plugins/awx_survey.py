# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of extensions/awx/configure.yml: ``awx_survey`` and ``awx_workflow_node``.

``awx_survey`` is an AWX survey spec from a role entry point's argument spec.
The questions take their type, choices, default and text from the argument spec, so a survey cannot drift
from what the role accepts: a bool becomes a true/false choice, an int an integer, a str with choices a
multiple choice, any other str a text field.
"""

from __future__ import annotations


def _first_line(description):
    if isinstance(description, list):
        description = ' '.join(description)
    return str(description or '').split('. ', maxsplit=1)[0].rstrip('.')


def question(name, option):
    kind = option.get('type', 'str')
    entry = {'variable': name, 'question_name': name.replace('_', ' '), 'question_description': _first_line(option.get('description')),
             'required': bool(option.get('required', False))}
    default = option.get('default')
    if kind == 'bool':
        entry.update(type='multiplechoice', choices=['true', 'false'], default='true' if default else 'false')
    elif kind == 'int':
        entry.update(type='integer', default=default if default is not None else '')
    elif option.get('choices'):
        entry.update(type='multiplechoice', choices=[str(c) for c in option['choices']],
                     default=str(default) if default is not None else '')
    elif kind == 'str':
        entry.update(type='text', default=str(default) if default is not None else '')
    else:
        raise ValueError('%s: argument type %s has no survey question type' % (name, kind))
    return entry


def awx_survey(argument_specs, entry_point, variables, name=''):
    """The survey spec (``name``, ``description``, ``spec``) for ``variables`` of ``entry_point``."""
    options = argument_specs['argument_specs'][entry_point]['options']
    missing = [v for v in variables if v not in options]
    if missing:
        raise ValueError('entry point %s has no option %s' % (entry_point, ', '.join(missing)))
    return {'name': name, 'description': 'From the argument spec of entry point %s' % entry_point,
            'spec': [question(v, options[v]) for v in variables]}


def awx_workflow_node(step, organization, inventory):
    """A node of awx.awx.workflow_job_template from a step of job_templates.yml (a job template or an inventory sync)."""
    if 'job_template' in step:
        template = {'name': step['job_template'], 'type': 'job_template', 'organization': {'name': organization}}
    else:
        template = {'name': step['inventory_source'], 'type': 'inventory_source',
                    'inventory': {'name': inventory, 'organization': {'name': organization}}}
    return {'identifier': step['identifier'], 'unified_job_template': template,
            'related': {'success_nodes': [{'identifier': i} for i in step.get('success', [])],
                        'failure_nodes': [], 'always_nodes': []}}


class FilterModule:
    def filters(self):
        return {'awx_survey': awx_survey, 'awx_workflow_node': awx_workflow_node}
