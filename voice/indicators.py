"""The phone channel's indicators for the supervisor dashboard (a ``console.kpis`` provider,
named in ``GUICHET_KPI_PROVIDERS``, so the console imports nothing from here).

Everything is read from ``voice.Call`` rows (their ``steps``) started in [start, end):
calls received, transfer rate, self-service completion per kind, hang-ups during a message
of the voice server, satisfaction (the keypad question after a completed self-service); and,
for the calls handed to an agent, the share answered within the target wait of their menu,
the average wait and the calls abandoned in the queue, per hour of the day."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Call, Menu, MenuNode

KIND_LABELS = {
    "track_request": MenuNode.Action.TRACK_REQUEST.label,
    "callback": MenuNode.Action.CALLBACK.label,
    "change_mobile": MenuNode.Action.CHANGE_MOBILE.label,
    "document": MenuNode.Action.DOCUMENT.label,
    "callbot": gettext_lazy("Assistant vocal (callbot)"),
}
# What the callbot heard and understood (voice.callbot's "callbot_heard" outcomes).
UNDERSTOOD = ("answered", "smalltalk", "handoff")


NBSP = "\u00a0"


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def summary(start: dt.datetime, end: dt.datetime, service_ids=None) -> dict:
    calls = Call.objects.filter(started_at__gte=start, started_at__lt=end)
    if service_ids is not None:
        calls = calls.filter(service_id__in=service_ids)
    received = completed_calls = transferred = hung_during = 0
    started: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    scores: Counter[int] = Counter()
    callbot_scores: Counter[int] = Counter()
    heard = understood = 0
    for steps, ended_by in calls.values_list("steps", "ended_by").iterator():
        received += 1
        names = [s.get("step") for s in steps]
        if "transfer_offered" in names or "transfer" in names:
            transferred += 1
        if any(s.get("step") == "hangup" and s.get("during_prompt") for s in steps):
            hung_during += 1
        done = False
        for step in steps:
            if step.get("step") == "self_service_start":
                started[step.get("kind", "")] += 1
            elif step.get("step") == "self_service" and step.get("completed"):
                completed[step.get("kind", "")] += 1
                done = True
            elif step.get("step") == "satisfaction":
                scores[int(step["score"])] += 1
                if step.get("kind") == "callbot":
                    callbot_scores[int(step["score"])] += 1
            elif step.get("step") == "callbot_heard":
                heard += 1
                understood += step.get("outcome") in UNDERSTOOD
        # A call is complete when the caller got what they came for or heard the end.
        if done or ended_by == Call.EndedBy.SERVER:
            completed_calls += 1
    rated = sum(scores.values())
    callbot_rated = sum(callbot_scores.values())
    return {
        "callbot_heard": heard,
        "callbot_understood": understood,
        "callbot_recognition_rate": _ratio(understood, heard),
        "callbot_satisfaction_count": callbot_rated,
        "callbot_satisfaction_avg": (
            sum(k * v for k, v in callbot_scores.items()) / callbot_rated if callbot_rated else None
        ),
        "received": received,
        "completion_rate": _ratio(completed_calls, received),
        "transfer_rate": _ratio(transferred, received),
        "hung_up_during_prompt": hung_during,
        "self_service": {
            kind: (started[kind], completed[kind]) for kind in sorted(set(started) | set(completed))
        },
        "self_service_rate": _ratio(sum(completed.values()), sum(started.values())),
        "satisfaction_count": rated,
        "satisfaction_avg": sum(k * v for k, v in scores.items()) / rated if rated else None,
        "satisfaction": [scores[score] for score in range(1, 6)],
    }


def answers(start: dt.datetime, end: dt.datetime, service_ids=None) -> dict:
    """Calls that entered the queue to an agent in [start, end): how many, answered, answered
    within their menu's ``answer_target`` (wait = answered_at - queued_at), abandoned (left
    the queue because the caller hung up), the average wait of the answered ones; the same
    counts per hour of the day (local time) of the entry in the queue."""
    calls = Call.objects.filter(queued_at__gte=start, queued_at__lt=end)
    if service_ids is not None:
        calls = calls.filter(service_id__in=service_ids)
    default = int(Menu._meta.get_field("answer_target").get_default())
    hours: dict[int, list[int]] = {}  # hour -> [queued, answered, in target, abandoned]
    waits: list[float] = []
    rows = calls.values_list("queued_at", "answered_at", "ended_by", "menu__answer_target")
    for queued_at, answered_at, ended_by, target in rows.iterator():
        assert queued_at is not None  # filtered on
        counts = hours.setdefault(timezone.localtime(queued_at).hour, [0, 0, 0, 0])
        counts[0] += 1
        if answered_at is not None:
            wait = (answered_at - queued_at).total_seconds()
            waits.append(wait)
            counts[1] += 1
            if wait <= (target if target is not None else default):
                counts[2] += 1
        elif ended_by == Call.EndedBy.CALLER:
            counts[3] += 1
    total = [sum(c[i] for c in hours.values()) for i in range(4)]
    return {
        "queued": total[0],
        "answered": total[1],
        "in_target": total[2],
        "abandoned": total[3],
        "in_target_rate": _ratio(total[2], total[0]),
        "abandon_rate": _ratio(total[3], total[0]),
        "average_wait": sum(waits) / len(waits) if waits else None,
        "hours": dict(sorted(hours.items())),
    }


def hourly_table(data: dict) -> dict:
    """The table "Décroché par heure" and its chart (the table is the chart's alternative)."""
    labels = [f"{hour}{NBSP}h" for hour in data["hours"]]
    rows = [
        [label, queued, answered, in_target, abandoned, _ratio(in_target, queued)]
        for label, (queued, answered, in_target, abandoned) in zip(
            labels, data["hours"].values(), strict=True
        )
    ]
    return {
        "key": "decroche",
        "title": _("Appels vers un conseiller par heure"),
        "columns": [
            _("Heure"),
            _("Mis en file"),
            _("Décrochés"),
            _("Dans l'objectif"),
            _("Abandonnés"),
            _("Taux dans l'objectif"),
        ],
        "formats": ["text", "number", "number", "number", "number", "percent"],
        "rows": rows,
        "empty": _("Aucun appel transmis à un conseiller sur la période."),
        "chart": {
            "type": "bar",
            "labels": labels,
            "datasets": [
                {"label": _("Décrochés dans l'objectif"), "data": [row[3] for row in rows]},
                {
                    "label": _("Décrochés hors objectif"),
                    "data": [row[2] - row[3] for row in rows],
                },
                {"label": _("Abandonnés"), "data": [row[4] for row in rows]},
            ],
            "unit": _("appels"),
        },
    }


def voice_kpis(
    start: dt.datetime,
    end: dt.datetime,
    *,
    user=None,
    service_ids=None,
    topic_id=None,
    channel=None,
) -> dict | None:
    """The dashboard section "Serveur vocal" (a topic filter does not narrow calls: a call
    has a topic only once it reaches a case)."""
    if channel and channel != "phone":
        return None
    data = summary(start, end, service_ids)
    queue = answers(start, end, service_ids)
    return {
        "title": _("Serveur vocal (téléphone)"),
        "metrics": [
            {
                "key": "calls",
                "label": _("Appels reçus"),
                "value": data["received"],
                "format": "number",
            },
            {
                "key": "completion_rate",
                "label": _("Taux d'appels aboutis"),
                "value": data["completion_rate"],
                "format": "percent",
                "help": _(
                    "Appels où l'usager a terminé un service en autonomie ou entendu la fin "
                    "du parcours (objectif : plus de 80 %)"
                ),
            },
            {
                "key": "self_service_rate",
                "label": _("Services en autonomie menés à bien"),
                "value": data["self_service_rate"],
                "format": "percent",
                "help": _("Terminés ÷ commencés, tous services en autonomie confondus"),
            },
            {
                "key": "transfer_rate",
                "label": _("Taux d'orientation vers un conseiller"),
                "value": data["transfer_rate"],
                "format": "percent",
            },
            {
                "key": "answered_in_target",
                "label": _("Décrochés dans l'objectif"),
                "value": queue["in_target_rate"],
                "format": "percent",
                "help": _(
                    "%(n)s appels sur %(total)s mis en file, décrochés par un conseiller dans "
                    "l'objectif d'attente du menu du service"
                )
                % {"n": queue["in_target"], "total": queue["queued"]},
            },
            {
                "key": "average_wait",
                "label": _("Attente moyenne avant décroché"),
                "value": queue["average_wait"],
                "format": "duration",
                "help": _("%(n)s appels décrochés par un conseiller") % {"n": queue["answered"]},
            },
            {
                "key": "abandoned",
                "label": _("Appels abandonnés en file"),
                "value": queue["abandoned"],
                "format": "number",
                "help": _("L'appelant a raccroché avant d'avoir un conseiller"),
            },
            {
                "key": "hung_up_during_prompt",
                "label": _("Raccrochés pendant un message"),
                "value": data["hung_up_during_prompt"],
                "format": "number",
            },
            {
                "key": "satisfaction",
                "label": _("Satisfaction (sur 5)"),
                "value": data["satisfaction_avg"],
                "format": "decimal",
                "help": _("%(n)s réponses à la question posée au clavier")
                % {"n": data["satisfaction_count"]},
            },
            {
                "key": "callbot_recognition",
                "label": _("Taux de reconnaissance du callbot"),
                "value": data["callbot_recognition_rate"],
                "format": "percent",
                "help": _(
                    "%(n)s demandes comprises (réponse, conseiller demandé) sur %(total)s "
                    "entendues par l'assistant vocal"
                )
                % {"n": data["callbot_understood"], "total": data["callbot_heard"]},
            },
            {
                "key": "callbot_satisfaction",
                "label": _("Satisfaction après le callbot (sur 5)"),
                "value": data["callbot_satisfaction_avg"],
                "format": "decimal",
                "help": _("%(n)s réponses après une réponse de l'assistant vocal")
                % {"n": data["callbot_satisfaction_count"]},
            },
        ],
        "tables": [
            hourly_table(queue),
            {
                "key": "autonomie",
                "title": _("Services en autonomie par catégorie"),
                "columns": [_("Catégorie"), _("Commencés"), _("Terminés"), _("Taux")],
                "formats": ["text", "number", "number", "percent"],
                "rows": [
                    [str(KIND_LABELS.get(kind, kind)), begun, done, _ratio(done, begun)]
                    for kind, (begun, done) in data["self_service"].items()
                ],
                "empty": _("Aucun service en autonomie sur la période."),
            },
            {
                "key": "satisfaction",
                "title": _("Satisfaction des appelants"),
                "columns": [_("Note"), _("Réponses")],
                "formats": ["number", "number"],
                "rows": [[score, count] for score, count in enumerate(data["satisfaction"], 1)],
            },
        ],
    }
