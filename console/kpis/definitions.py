"""What the dashboard counts: metric names, the events that are contacts, scope and range.

The definitions themselves are documented in ``console.kpis`` (and docs/dashboard.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import F, Q
from django.utils import timezone

from contactcenter.models import Case, Channel, Event


class M:
    """Metric names of ``DailyKpi`` rows (all additive)."""

    CONTACTS = "contacts"
    OPENED = "cases_opened"
    ANSWERED = "answered"
    WAIT_SUM = "wait_sum"  # seconds
    WAIT_HIST = "wait_hist"  # value = count, data = {rounded seconds: count}
    SLA_MET = "sla_met"
    SLA_MISSED = "sla_missed"
    CLOSED = "closed"
    HANDLED = "handled"  # closed cases that had an owner: denominator of handling time
    HANDLING_SUM = "handling_sum"  # seconds
    RESOLUTION_SUM = "resolution_sum"  # seconds
    FCR = "fcr"
    TRANSFERS_SERVICE = "transfers_service"
    TRANSFERS_AGENT = "transfers_agent"
    CHAT_ABANDONED = "chat_abandoned"
    SAT_COUNT = "sat_count"
    SAT_SUM = "sat_sum"
    SAT_SCORE = "sat_%d"  # sat_1 ... sat_5
    # "Votre demande est-elle résolue ?" in the surveys after a contact: answers, and "oui".
    SAT_RESOLVED_ASKED = "sat_resolved_asked"
    SAT_RESOLVED = "sat_resolved"
    LOGINS = "logins_citizen"


SCORES = (1, 2, 3, 4, 5)

# Channels in the order the dashboard lists them.
CHANNEL_ORDER = [
    Channel.WEB,
    Channel.CHAT,
    Channel.PHONE,
    Channel.COUNTER,
    Channel.CALLBACK,
    Channel.CHATBOT,
    Channel.COBROWSE,
    Channel.VISIO,
    Channel.EMAIL,
    Channel.LETTER,
]
CHANNEL_LABELS = dict(Channel.choices)

# What counts as one contact, per event type. The contact's channel is the event's channel
# except for the types that are a channel of their own (a co-browsing session recorded on a web
# case is a co-browsing contact).
CONTACT_EVENTS = (
    # A secure message written by the citizen (the first one opens the case).
    Q(type=Event.Type.MESSAGE, channel=Channel.WEB, internal=False, actor_id=F("citizen_id"))
    # An e-mail received by a functional mailbox (mail.services: agents' answers are "web").
    | Q(type=Event.Type.MESSAGE, channel=Channel.EMAIL, internal=False)
    # A chat: one "started" event per conversation (chat.services.start_chat).
    | Q(type=Event.Type.CHAT, payload__phase="started")
    # Phone, counter, e-mail, letter contacts recorded by an agent (console.worklist).
    | Q(type=Event.Type.CONTACT)
    # A callback booked (routing.request_callback); attempts carry an "outcome".
    | Q(type=Event.Type.CALLBACK, payload__has_key="slot_start")
    # A co-browsing session, recorded once when it ends (cobrowse.services).
    | Q(type=Event.Type.COBROWSE)
    # A visio call, recorded once when it ends (visio.services).
    | Q(type=Event.Type.VISIO)
)
OWN_CHANNEL_TYPES = {
    Event.Type.CHAT: Channel.CHAT,
    Event.Type.CALLBACK: Channel.CALLBACK,
    Event.Type.COBROWSE: Channel.COBROWSE,
    Event.Type.VISIO: Channel.VISIO,
}
# Agent interactions that answer a citizen (first-contact resolution counts them).
INTERACTION_TYPES = (
    Event.Type.MESSAGE,
    Event.Type.REQUEST_INFO,
    Event.Type.CHAT,
    Event.Type.CONTACT,
    Event.Type.CALLBACK,
)
FCR_RESOLUTIONS = ("", Case.Resolution.ANSWERED)


@dataclass(frozen=True)
class Scope:
    """What a dashboard looks at: services (None: all), one topic, one channel."""

    service_ids: tuple[int, ...] | None = None
    topic_id: int | None = None
    channel: str | None = None

    def filter_kwargs(self, service_field: str, topic_field: str) -> dict:
        kwargs: dict = {}
        if self.service_ids is not None:
            kwargs[f"{service_field}__in"] = self.service_ids
        if self.topic_id is not None:
            kwargs[topic_field] = self.topic_id
        return kwargs

    def accepts_channel(self, channel: str) -> bool:
        # Rows without a channel (citizen logins) belong to every channel filter.
        return self.channel is None or channel == "" or channel == self.channel


ALL = Scope()


def local_today() -> date:
    return timezone.localdate()


def day_start(day: date) -> datetime:
    """Local midnight of ``day`` (Europe/Paris), as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    return day_start(day), day_start(day + timedelta(days=1))


@dataclass(frozen=True)
class KpiRange:
    """Inclusive range of local days; the last day may be today (counted up to now)."""

    start: date
    end: date

    def __post_init__(self):
        if self.start > self.end:
            raise ValueError("start after end")

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_dt(self) -> datetime:
        return day_start(self.start)

    @property
    def end_dt(self) -> datetime:
        """End of the last day (exclusive). Today's window thus includes "now"."""
        return day_start(self.end + timedelta(days=1))

    def previous(self) -> KpiRange:
        """The range of the same length just before (for trends)."""
        return KpiRange(self.start - timedelta(days=self.length), self.start - timedelta(days=1))

    @classmethod
    def last_days(cls, count: int, today: date | None = None) -> KpiRange:
        today = today or local_today()
        return cls(today - timedelta(days=count - 1), today)
