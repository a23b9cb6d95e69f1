"""The Hetzner Cloud label-selector grammar, evaluated server side as the real API does.

Expressions joined by commas must all hold: ``k==v``, ``k=v``, ``k!=v``, ``k``, ``!k``,
``k in (a,b)`` and ``k notin (a,b)``. Commas inside parentheses belong to the value list.
"""
import re

_SET = re.compile(r'^\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*$')
_CMP = re.compile(r'^\s*([^\s!=(),]+)\s*(==|!=|=)\s*([^\s!=(),]*)\s*$')
_HAS = re.compile(r'^\s*(!?)\s*([^\s!=(),]+)\s*$')


class SelectorError(ValueError):
    """The selector does not follow the grammar."""


def _split(selector):
    """Split on the commas that are not inside a value list."""
    parts, depth, current = [], 0, []
    for char in selector:
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
            if depth < 0:
                raise SelectorError('unbalanced parenthesis')
        if char == ',' and depth == 0:
            parts.append(''.join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise SelectorError('unbalanced parenthesis')
    parts.append(''.join(current))
    return parts


def parse(selector):
    """Return a list of ``(op, key, values)`` terms; raise SelectorError on bad syntax."""
    terms = []
    for part in _split(selector or ''):
        if not part.strip():
            raise SelectorError('empty expression')
        match = _SET.match(part)
        if match:
            values = [v.strip() for v in match.group(3).split(',')]
            if not all(values):
                raise SelectorError('empty value in %r' % part.strip())
            terms.append((match.group(2), match.group(1), values))
            continue
        match = _CMP.match(part)
        if match:
            terms.append(('!=' if match.group(2) == '!=' else '==', match.group(1), [match.group(3)]))
            continue
        match = _HAS.match(part)
        if match:
            terms.append(('absent' if match.group(1) else 'present', match.group(2), []))
            continue
        raise SelectorError('cannot parse %r' % part.strip())
    return terms


def matches(terms, labels):
    """True if ``labels`` satisfies every term."""
    for op, key, values in terms:
        present = key in labels
        if op == 'present' and not present:
            return False
        if op == 'absent' and present:
            return False
        if op in ('==', 'in') and (not present or labels[key] not in values):
            return False
        if op in ('!=', 'notin') and present and labels[key] in values:
            return False
    return True
