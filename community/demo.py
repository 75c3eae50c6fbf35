"""Demo forum: a few threads under pseudonyms, one answer certified by an agent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from contactcenter.models import Topic, User

from .models import Member, Post, Thread

# (demo citizen index, pseudonym)
MEMBERS = [(1, "Colibri42"), (2, "Mistral_07")]

# topic, language, author member index, title, question, replies [(author, text, certified)],
# resolved. An author "agent" is the first demo agent of the topic's service.
THREADS: list[tuple[str, str, int, str, str, list[tuple[Any, str, bool]], bool]] = [
    (
        "impots",
        "fr",
        0,
        "Prélèvement à la source : modifier mon taux après une baisse de revenus",
        "Mes revenus vont baisser de près de 20 % cette année après un passage à temps partiel. "
        "Est-ce que je peux faire baisser mon taux de prélèvement tout de suite, sans attendre "
        "la déclaration de l'an prochain ?",
        [
            (
                "agent",
                "Oui : dans votre espace particulier, rubrique « Gérer mon prélèvement à la "
                "source », choisissez « Actualiser suite à une hausse ou une baisse de vos "
                "revenus ». La baisse doit dépasser 5 % et 200 € de prélèvement sur l'année. "
                "Le nouveau taux s'applique au plus tard le troisième mois suivant.",
                True,
            ),
            (
                1,
                "Je l'ai fait le mois dernier, le nouveau taux est arrivé sur ma fiche de paie "
                "au bout de six semaines.",
                False,
            ),
        ],
        True,
    ),
    (
        "titres",
        "fr",
        1,
        "Délai pour renouveler un passeport avant un voyage cet été",
        "Mon passeport expire en juin et je pars en juillet. Combien de temps faut-il compter "
        "entre le rendez-vous en mairie et la remise du nouveau passeport ?",
        [
            (
                0,
                "Il faut surtout prendre le rendez-vous tôt : les délais varient beaucoup d'une "
                "mairie à l'autre. La fabrication prend ensuite en général deux à trois "
                "semaines.",
                False,
            ),
        ],
        False,
    ),
    (
        "impots",
        "en",
        1,
        "How do I declare my income as a foreign student working part-time?",
        "I am an international student with a part-time job in France. Do I have to file an "
        "income tax return, and is there an exemption for student jobs?",
        [],
        False,
    ),
]


@transaction.atomic
def load_demo(people: dict[str, list[User]]) -> int:
    citizens = people.get("citizens", [])
    agents = people.get("agents", [])
    if len(citizens) < 3 or Thread.objects.filter(author__in=citizens).exists():
        return 0
    members = []
    for index, pseudonym in MEMBERS:
        member, _ = Member.objects.get_or_create(
            user=citizens[index], defaults={"pseudonym": pseudonym}
        )
        members.append(member)
    topics = {t.slug: t for t in Topic.objects.select_related("service")}
    now = timezone.now()
    created = 0
    for age, (slug, language, author, title, question, replies, resolved) in enumerate(THREADS):
        topic = topics.get(slug)
        if topic is None:
            continue
        agent = next(
            (
                a
                for a in agents
                if topic.service_id in a.agent_profile.services.values_list("id", flat=True)
            ),
            None,
        )
        at = now - timedelta(days=3 * (age + 1))
        thread = Thread.objects.create(
            topic=topic,
            title=title,
            author=members[author].user,
            language=language,
            is_published=True,
            is_resolved=resolved,
            views=17 * (len(THREADS) - age),
        )
        posts = [Post(thread=thread, author=members[author].user, body=question, is_question=True)]
        for who, text, certified in replies:
            user = agent if who == "agent" else members[who].user
            if user is None:
                continue
            posts.append(
                Post(
                    thread=thread,
                    author=user,
                    body=text,
                    certified_by=agent if certified else None,
                    certified_at=at + timedelta(hours=5) if certified else None,
                )
            )
        for offset, post in enumerate(posts):
            post.save()
            Post.objects.filter(pk=post.pk).update(created_at=at + timedelta(hours=2 * offset))
        Thread.objects.filter(pk=thread.pk).update(
            created_at=at, last_activity_at=at + timedelta(hours=2 * (len(posts) - 1))
        )
        created += 1
    return created


def on_demo_loaded(sender: Any, people: dict[str, list[User]] | None = None, **kwargs: Any) -> None:
    load_demo(people or {})
