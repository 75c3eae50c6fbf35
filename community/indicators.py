"""The forum's indicators for supervisors: a dashboard section in the shape ``console.kpis``
expects (named in ``GUICHET_KPI_PROVIDERS``).

Over the questions published in the period, per topic: how many, the share answered, the share
with a certified answer (and certified within 72 hours, the experts' target), the median time
to the first answer and to the certified one, the threads sent to a channel (a secure
messaging request opened for the author), the threads' views and the threads turned into
knowledge-base articles. One grouped query (one row per thread, its first answer and first
certification computed by the database); medians are taken from those rows.

"Messages avoided" (the seed's indicator) compares the requests opened on each forum topic in
the period with the previous period of the same length (one more grouped query on the cases):
the difference, before minus during, is an estimate of what the forum spared the channels.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Min, Q
from django.utils.translation import gettext as _

from contactcenter.models import Case

from .models import Post, Thread

CERTIFY_WITHIN = dt.timedelta(hours=72)


@dataclass
class TopicFigures:
    title: str
    questions: int = 0
    answered: int = 0
    certified: int = 0
    certified_in_time: int = 0
    redirected: int = 0
    views: int = 0
    articles: int = 0
    requests_before: int = 0  # requests on the topic in the previous period
    requests_during: int = 0
    to_answer: list[float] = field(default_factory=list)  # seconds
    to_certified: list[float] = field(default_factory=list)

    def share(self, count: int) -> float | None:
        return count / self.questions if self.questions else None

    @staticmethod
    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    @property
    def avoided(self) -> int:
        return self.requests_before - self.requests_during


def figures(
    start: dt.datetime,
    end: dt.datetime,
    *,
    service_ids: list[int] | None = None,
    topic_id: int | None = None,
) -> dict[int, TopicFigures]:
    published = Q(posts__status=Post.Status.PUBLISHED, posts__is_question=False)
    threads = Thread.objects.filter(is_published=True, created_at__gte=start, created_at__lt=end)
    if service_ids is not None:
        threads = threads.filter(topic__service_id__in=service_ids)
    if topic_id is not None:
        threads = threads.filter(topic_id=topic_id)
    rows = threads.values(
        "pk", "topic_id", "topic__title", "created_at", "case_id", "views", "article_id"
    ).annotate(
        first_answer=Min("posts__created_at", filter=published),
        first_certified=Min("posts__certified_at", filter=published),
    )
    result: dict[int, TopicFigures] = defaultdict(lambda: TopicFigures(title=""))
    for row in rows:
        topic = result[row["topic_id"]]
        topic.title = row["topic__title"]
        topic.questions += 1
        topic.redirected += row["case_id"] is not None
        topic.views += row["views"]
        topic.articles += row["article_id"] is not None
        if row["first_answer"] is not None:
            topic.answered += 1
            topic.to_answer.append((row["first_answer"] - row["created_at"]).total_seconds())
        if row["first_certified"] is not None:
            waited = row["first_certified"] - row["created_at"]
            topic.certified += 1
            topic.certified_in_time += waited <= CERTIFY_WITHIN
            topic.to_certified.append(waited.total_seconds())
    return dict(result)


def requests_before_after(
    per_topic: dict[int, TopicFigures], start: dt.datetime, end: dt.datetime
) -> None:
    """Requests opened on each topic during [start, end) and the period of the same length
    before it, in one grouped query, into ``per_topic``."""
    if not per_topic:
        return
    before = start - (end - start)
    rows = (
        Case.objects.filter(
            topic_id__in=list(per_topic), created_at__gte=before, created_at__lt=end
        )
        .values("topic_id")
        .annotate(
            before=Count("pk", filter=Q(created_at__lt=start)),
            during=Count("pk", filter=Q(created_at__gte=start)),
        )
    )
    for row in rows:
        per_topic[row["topic_id"]].requests_before = row["before"]
        per_topic[row["topic_id"]].requests_during = row["during"]


def forum_kpis(
    start: dt.datetime,
    end: dt.datetime,
    *,
    user=None,
    service_ids=None,
    topic_id=None,
    channel=None,
) -> dict | None:
    if channel:
        return None  # the forum is no contact channel: a channel filter hides the section
    per_topic = figures(start, end, service_ids=service_ids, topic_id=topic_id)
    requests_before_after(per_topic, start, end)
    total = TopicFigures(title=_("Tous thèmes"))
    for topic in per_topic.values():
        total.questions += topic.questions
        total.answered += topic.answered
        total.certified += topic.certified
        total.certified_in_time += topic.certified_in_time
        total.redirected += topic.redirected
        total.views += topic.views
        total.articles += topic.articles
        total.requests_before += topic.requests_before
        total.requests_during += topic.requests_during
        total.to_answer += topic.to_answer
        total.to_certified += topic.to_certified

    def row(item: TopicFigures) -> list:
        return [
            item.title,
            item.questions,
            item.share(item.answered),
            item.share(item.certified),
            item.share(item.certified_in_time),
            item.median(item.to_answer),
            item.median(item.to_certified),
            item.redirected,
            item.views,
            item.articles,
            item.requests_before,
            item.requests_during,
            item.avoided,
        ]

    return {
        "title": _("Forum d'entraide"),
        "metrics": [
            {
                "key": "questions",
                "label": _("Questions publiées"),
                "value": total.questions,
                "format": "number",
                "help": _("Fils ouverts sur la période"),
            },
            {
                "key": "answered",
                "label": _("Questions avec une réponse"),
                "value": total.share(total.answered),
                "format": "percent",
                "help": _("%(n)s questions sur %(total)s")
                % {"n": total.answered, "total": total.questions},
            },
            {
                "key": "time_to_answer",
                "label": _("Délai médian de première réponse"),
                "value": total.median(total.to_answer),
                "format": "duration",
                "help": _("Du message de la question à la première réponse publiée"),
            },
            {
                "key": "certified",
                "label": _("Questions avec une réponse certifiée"),
                "value": total.share(total.certified),
                "format": "percent",
                "help": _("Dont certifiées sous 72 h : %(n)s") % {"n": total.certified_in_time},
            },
            {
                "key": "redirected",
                "label": _("Réorientées vers la messagerie sécurisée"),
                "value": total.redirected,
                "format": "number",
                "help": _("Situations nécessitant l'examen du dossier"),
            },
            {
                "key": "views",
                "label": _("Consultations des fils"),
                "value": total.views,
                "format": "number",
                "help": _("Des questions publiées sur la période"),
            },
            {
                "key": "articles",
                "label": _("Fils devenus articles"),
                "value": total.articles,
                "format": "number",
                "help": _("Brouillons proposés à la base de connaissances"),
            },
            {
                "key": "avoided",
                "label": _("Demandes évitées (estimation)"),
                "value": total.avoided,
                "format": "number",
                "help": _(
                    "Demandes sur ces thèmes : %(before)s la période précédente, %(during)s "
                    "sur la période"
                )
                % {"before": total.requests_before, "during": total.requests_during},
            },
        ],
        "tables": [
            {
                "key": "forum_topics",
                "title": _("Questions du forum par thème"),
                "columns": [
                    _("Thème"),
                    _("Questions"),
                    _("Avec réponse"),
                    _("Avec réponse certifiée"),
                    _("Certifiées sous 72 h"),
                    _("Délai médian de première réponse"),
                    _("Délai médian de réponse certifiée"),
                    _("Réorientées"),
                    _("Consultations"),
                    _("Devenus articles"),
                    _("Demandes, période précédente"),
                    _("Demandes, période"),
                    _("Demandes évitées"),
                ],
                "formats": [
                    "text",
                    "number",
                    "percent",
                    "percent",
                    "percent",
                    "duration",
                    "duration",
                    "number",
                    "number",
                    "number",
                    "number",
                    "number",
                    "number",
                ],
                "empty": _("Aucune question publiée sur la période."),
                "rows": [row(item) for item in sorted(per_topic.values(), key=lambda t: t.title)]
                + ([row(total)] if len(per_topic) > 1 else []),
            }
        ],
    }
