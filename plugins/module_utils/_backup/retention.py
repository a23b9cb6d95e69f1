# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which backup sets to keep: the newest set of each of the last N days, ISO weeks and months.

The same rule as restic's ``forget --keep-daily/--keep-weekly/--keep-monthly``: walk the sets from the
newest, and a set is kept for a period kind when it is the newest set of a period not seen yet and
fewer than N periods of that kind were kept. The newest set is always kept, whatever the policy, so
retention can never remove the last good set. Folders without a manifest (runs that failed or are
still running) are removed only when they are older than a grace period.
"""

from __future__ import annotations

import datetime

PERIODS = (
    ('daily', lambda moment: moment.strftime('%Y-%m-%d')),
    ('weekly', lambda moment: '%04d-W%02d' % moment.isocalendar()[:2]),
    ('monthly', lambda moment: moment.strftime('%Y-%m')),
)


def plan(sets, keep):
    """``sets``: {set id: datetime}; ``keep``: {'daily': N, 'weekly': N, 'monthly': N}.

    Returns ``(kept, deleted)``: kept is {set id: [reasons]} and deleted a sorted list of set ids.
    """
    ordered = sorted(sets, key=lambda set_id: (sets[set_id], set_id), reverse=True)
    kept = {}
    for name, period_of in PERIODS:
        limit = keep.get(name) or 0
        seen = set()
        for set_id in ordered:
            if len(seen) >= limit:
                break
            period = period_of(sets[set_id])
            if period in seen:
                continue
            seen.add(period)
            kept.setdefault(set_id, []).append('%s %s' % (name, period))
    if ordered:
        kept.setdefault(ordered[0], []).insert(0, 'newest')
    deleted = sorted(set_id for set_id in ordered if set_id not in kept)
    return kept, deleted


def stale_partials(partials, now, grace_hours):
    """Folders without a manifest started more than ``grace_hours`` ago: ``partials`` is {name: datetime}."""
    limit = now - datetime.timedelta(hours=grace_hours)
    return sorted(name for name, started in partials.items() if started is not None and started < limit)
