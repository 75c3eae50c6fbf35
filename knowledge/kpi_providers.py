"""Dashboard sections of the knowledge app, in the shape ``console.kpis`` expects.

Named in settings (``GUICHET_KPI_PROVIDERS``) so that the console imports nothing from here.
Only adapts: the figures are computed by ``knowledge.analytics`` (chatbot, deflection) and
``knowledge.services`` (review list, ownership); nothing is recomputed here.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from . import analytics, tutorials
from .models import Article
from .services import articles_due_for_review, effective_owner

TOP_QUESTIONS = 10
RATED_ARTICLES = 10


def chatbot_kpis(
    start: dt.datetime,
    end: dt.datetime,
    *,
    user=None,
    service_ids=None,
    topic_id=None,
    channel=None,
) -> dict | None:
    """The virtual assistant and the contact-form deflection over [start, end).

    ``knowledge.analytics`` measures the assistant as a whole (it serves every citizen before
    any service is known), so service and topic filters do not narrow these figures; a channel
    filter other than the assistant hides the section.
    """
    if channel and channel != "chatbot":
        return None
    data = analytics.summary(start, end)
    deflection = data["deflection"]
    return {
        "title": _("Assistant virtuel et réponses proposées"),
        "metrics": [
            {
                "key": "conversations",
                "label": _("Conversations avec l'assistant"),
                "value": data["conversations"],
                "format": "number",
                "help": _("%(n)s questions posées, tous services confondus")
                % {"n": data["questions"]},
            },
            {
                "key": "recognition_rate",
                "label": _("Taux de reconnaissance"),
                "value": data["recognition_rate"],
                "format": "percent",
                "help": _("Questions pour lesquelles l'assistant a trouvé un article"),
            },
            {
                "key": "dont_know_rate",
                "label": _("Taux de « je ne sais pas »"),
                "value": data["dont_know_rate"],
                "format": "percent",
                "help": _("%(n)s questions restées sans réponse") % {"n": data["dont_know"]},
            },
            {
                "key": "handoff_rate",
                "label": _("Passage à un conseiller"),
                "value": data["handoff_rate"],
                "format": "percent",
                "help": _("Conversations poursuivies avec un agent (conseiller proposé : %(o)s)")
                % {"o": _percent(data["handoff_offer_rate"])},
            },
            {
                "key": "deflection_rate",
                "label": _("Réponses suffisantes avant une demande"),
                "value": data["deflection_rate"],
                "format": "percent",
                "help": _("« Cette réponse me suffit » : %(s)s fois pour %(d)s propositions")
                % {"s": deflection["sufficient"], "d": deflection["displays"]},
            },
        ],
        "tables": [
            {
                "key": "questions",
                "title": _("Questions sans réponse les plus fréquentes"),
                "columns": [_("Question"), _("Nombre"), _("Dernière fois")],
                "formats": ["text", "number", "datetime"],
                "empty": _("Aucune question restée sans réponse sur la période."),
                "rows": [
                    [row["question"], row["count"], row["last_asked"]]
                    for row in data["top_unanswered"][:TOP_QUESTIONS]
                ],
            },
            {
                "key": "articles",
                "title": _("Avis sur les réponses de l'assistant, par article"),
                "columns": [_("Article"), _("Utile"), _("Pas utile"), _("Part d'avis utiles")],
                "formats": ["text", "number", "number", "percent"],
                "empty": _("Aucun avis sur les réponses de l'assistant sur la période."),
                "rows": [
                    [row["title"], row["up"], row["down"], row["satisfaction"]]
                    for row in data["article_ratings"][:RATED_ARTICLES]
                ],
            },
            {
                "key": "redirections",
                "title": _("Sujets non traités, réorientés vers un autre organisme"),
                "columns": [_("Sujet"), _("Organisme"), _("Nombre")],
                "formats": ["text", "text", "number"],
                "empty": _("Aucune question réorientée sur la période."),
                "rows": [
                    [row["title"], row["organisation"], row["count"]]
                    for row in data["top_redirections"][:TOP_QUESTIONS]
                ],
            },
        ],
        "volumes": {"chatbot": data["conversations"]},
    }


def knowledge_base_kpis(
    start: dt.datetime,
    end: dt.datetime,
    *,
    user=None,
    service_ids=None,
    topic_id=None,
    channel=None,
) -> dict | None:
    """Articles of the viewer's services due for review, and those expired (unpublished).

    A state of today, whatever the period. The "à revoir" list is ``articles_due_for_review``;
    expired articles are those whose expiry date has come (``unpublish_expired`` archives them).
    """
    if user is None or channel:
        return None
    today = timezone.localdate()
    due = list(articles_due_for_review(user, today))
    expired = [
        article
        for article in Article.objects.filter(expiry_date__isnull=False, expiry_date__lte=today)
        .select_related("topic", "owner", "topic__service")
        .order_by("-expiry_date", "title")
        if _visible(article, user, service_ids)
    ]
    due = [article for article in due if _in_scope(article, service_ids, topic_id)]
    expired = [article for article in expired if _in_scope(article, service_ids, topic_id)]
    rows = [
        [a.title, a.topic.title, effective_owner(a).name, _("À revoir"), a.review_date] for a in due
    ] + [
        [a.title, a.topic.title, effective_owner(a).name, _("Expiré"), a.expiry_date]
        for a in expired
    ]
    return {
        "title": _("Base de connaissances"),
        "metrics": [
            {
                "key": "due",
                "label": _("Articles à revoir"),
                "value": len(due),
                "format": "number",
                "help": _("Date de révision atteinte (liste « à revoir » de la console)"),
            },
            {
                "key": "expired",
                "label": _("Articles expirés"),
                "value": len(expired),
                "format": "number",
                "help": _("Date d'expiration atteinte : dépubliés automatiquement"),
            },
        ],
        "tables": [
            {
                "key": "articles",
                "title": _("Articles à revoir ou expirés"),
                "columns": [_("Article"), _("Thème"), _("Service"), _("État"), _("Depuis le")],
                "formats": ["text", "text", "text", "text", "date"],
                "empty": _("Aucun article à revoir ni expiré aujourd'hui."),
                "rows": rows,
            }
        ],
    }


def tutorial_kpis(
    start: dt.datetime,
    end: dt.datetime,
    *,
    user=None,
    service_ids=None,
    topic_id=None,
    channel=None,
) -> dict | None:
    """DILA's measure of video tutorials: views against the messages received on the subject.

    Per tutorial, starts and completions over the period (one per visitor and day), the cases
    opened on its topic over the same period (every channel, or the filtered one), the ratio of
    views per message, and the same over the period of equal length before (the trend).
    """
    rows = tutorials.indicators(
        start, end, service_ids=service_ids, topic_id=topic_id, channel=channel
    )
    if not rows:
        return None
    starts = sum(r.starts for r in rows)
    completions = sum(r.completions for r in rows)
    return {
        "title": _("Tutoriels vidéo : vues et messages reçus sur le sujet"),
        "metrics": [
            {
                "key": "starts",
                "label": _("Vidéos lancées"),
                "value": starts,
                "format": "number",
                "help": _("Une fois par visiteur et par jour, sans donnée personnelle"),
            },
            {
                "key": "completion_rate",
                "label": _("Vues jusqu'au bout"),
                "value": completions / starts if starts else None,
                "format": "percent",
                "help": _("%(n)s vidéos regardées en entier") % {"n": completions},
            },
        ],
        "tables": [
            {
                "key": "tutorials",
                "title": _("Vues des tutoriels et messages reçus sur leur thème"),
                "columns": [
                    _("Tutoriel"),
                    _("Thème"),
                    _("Vues"),
                    _("Vues complètes"),
                    _("Messages reçus sur le thème"),
                    _("Vues par message"),
                    _("Vues par message, période précédente"),
                    _("Évolution des messages"),
                ],
                "formats": [
                    "text",
                    "text",
                    "number",
                    "number",
                    "number",
                    "decimal",
                    "decimal",
                    "trend",
                ],
                "empty": _("Aucun tutoriel publié."),
                "rows": [
                    [
                        r.tutorial.title,
                        r.tutorial.topic.title,
                        r.starts,
                        r.completions,
                        r.messages,
                        r.ratio,
                        r.previous_ratio,
                        r.messages_trend,
                    ]
                    for r in rows
                ],
            }
        ],
    }


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)} %"


def _visible(article: Article, user, service_ids) -> bool:
    if user.is_admin_role:
        return True
    from contactcenter.permissions import user_service_ids

    return effective_owner(article).pk in user_service_ids(user)


def _in_scope(article: Article, service_ids, topic_id) -> bool:
    if service_ids is not None and effective_owner(article).pk not in service_ids:
        return False
    return topic_id is None or article.topic_id == topic_id
