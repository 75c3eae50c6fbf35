"""Supervisor dashboard indicators: definitions, computation, precomputation, providers.

Every indicator is built from additive figures (counts and sums) attributed to the day the
thing happened (a contact on the day it arrived, a waiting time on the day of the first answer,
a closure on the day of closing...). Past days therefore never change once over, so a Celery beat
task stores them (``DailyKpi`` rows, ``store_day``); the dashboard sums the stored rows of the
range and computes the current day live with the same function (``compute_rows``). Any range,
any grouping (service, topic, channel) is then a SUM, never a scan of the timeline.

Definitions (docs/dashboard.md explains them for supervisors):

- contacts: web messages written by citizens, chats started, phone/counter/e-mail/letter
  contacts recorded by agents, callbacks booked, co-browsing sessions; chatbot conversations
  come from the knowledge provider (they need no case);
- waiting time before first answer: ``first_response_at - created_at`` of the cases first
  answered in the range; p50/p90 with PostgreSQL's ``percentile_cont`` semantics;
- SLA compliance: answered by the deadline (counted on the answer day) against deadlines missed
  (counted on the deadline day); open cases whose deadline is still ahead are not counted;
- handling time: closure minus (last) assignment, for cases closed in the range; resolution time:
  closure minus creation;
- first-contact resolution: a closed case marked "résolu au premier contact" by the agent, or
  closed "répondu" (or without resolution) after exactly one agent interaction (message, request
  for details, chat, recorded contact, callback), never transferred;
- transfer rate: transfers to another service (counted for the service that transferred, on the
  transfer day) per case opened; agent-to-agent hand-overs inside a service are counted apart;
- chats abandoned while queued: chat cases closed without ever being assigned to an agent;
- secure messages per 100 logins: web messages written by citizens per 100 citizen logins.

Modules: ``definitions`` (metric names, what counts as a contact, ``Scope``, ``KpiRange``),
``percentiles`` (histograms and ``percentile_cont``), ``compute`` (``compute_rows``: the figures
of a time window), ``store`` (``store_day`` and the days to compute; ``record_login``),
``report`` (``build_report``: stored days plus live windows, derived indicators) and
``providers`` (indicators contributed by other apps, the live tiles), ``snapshot`` (the page's
report shared for a short time in the cache). This package exports
their public API.
"""

from .compute import Row, compute_rows
from .definitions import ALL, CHANNEL_LABELS, CHANNEL_ORDER, SCORES, KpiRange, M, Scope, local_today
from .percentiles import (
    PERCENTILE_FRACTIONS,
    exact_wait_percentiles,
    percentile_cont,
    round_seconds,
    wait_seconds,
)
from .providers import (
    ProviderMetric,
    ProviderSection,
    ProviderTable,
    live_provider,
    register_provider,
    run_providers,
    unregister_provider,
)
from .report import Comment, Figures, Report, build_report
from .snapshot import Snapshot, report_snapshot
from .store import days_to_compute, missing_days, record_login, store_day

__all__ = [
    "ALL",
    "CHANNEL_LABELS",
    "CHANNEL_ORDER",
    "PERCENTILE_FRACTIONS",
    "SCORES",
    "Comment",
    "Figures",
    "KpiRange",
    "M",
    "ProviderMetric",
    "ProviderSection",
    "ProviderTable",
    "Report",
    "Row",
    "Scope",
    "Snapshot",
    "build_report",
    "compute_rows",
    "days_to_compute",
    "exact_wait_percentiles",
    "live_provider",
    "local_today",
    "missing_days",
    "percentile_cont",
    "record_login",
    "register_provider",
    "report_snapshot",
    "round_seconds",
    "run_providers",
    "store_day",
    "unregister_provider",
    "wait_seconds",
]
