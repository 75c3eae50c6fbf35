"""The phone channel's indicators for the supervisor dashboard (a ``console.kpis`` provider,
named in ``GUICHET_KPI_PROVIDERS``, so the console imports nothing from here).

Everything is read from ``voice.Call`` rows (their ``steps``) started in [start, end):
calls received, transfer rate, self-service completion per kind, hang-ups during a message
of the voice server, satisfaction (the keypad question after a completed self-service)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.utils.translation import gettext as _

from .models import Call, MenuNode

KIND_LABELS = {
    "track_request": MenuNode.Action.TRACK_REQUEST.label,
    "callback": MenuNode.Action.CALLBACK.label,
    "change_mobile": MenuNode.Action.CHANGE_MOBILE.label,
    "document": MenuNode.Action.DOCUMENT.label,
}


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
        # A call is complete when the caller got what they came for or heard the end.
        if done or ended_by == Call.EndedBy.SERVER:
            completed_calls += 1
    rated = sum(scores.values())
    return {
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
        ],
        "tables": [
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
