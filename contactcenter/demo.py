"""Demo data: services, topics, people and ~30 cases in every status with realistic threads.

Used by ``manage.py load_demo`` and by the end-to-end tests (which log in as these people).
Idempotent: people and reference data are updated in place, cases are created once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from . import phones
from .models import AgentProfile, Case, Event, Service, Skill, Topic, User
from .services import add_event, change_status, open_case

DEMO_PASSWORD = "Guichet-Demo-2026!"
KB_PATH = Path(__file__).resolve().parent / "demo_data" / "faq.json"

SERVICES = {
    "fiscalite": ("Pôle fiscalité et titres", ["impots", "titres", "compte"], "+33140000101"),
    "social": ("Pôle social et emploi", ["sante", "etudiants", "emploi"], "+33140000202"),
}
# Two-factor authentication of the demo staff (accounts.demo): one TOTP key for every staff
# account (base32, to add to an authenticator app) and recovery codes, each usable once per
# account; load_demo enrols them again each time it runs.
DEMO_TOTP_KEY = "GUICHETDEMO2FAGUICHETDEMO2FAGUIC"
DEMO_RECOVERY_CODES = ("demo2fa01", "demo2fa02", "demo2fa03", "demo2fa04", "demo2fa05")
# Skill names as agents and supervisors read them (the codes are slugs, without accents).
SKILL_NAMES = {
    "impots": "Impôts",
    "titres": "Titres",
    "compte": "Compte",
    "sante": "Santé",
    "etudiants": "Étudiants",
    "emploi": "Emploi",
}


@dataclass(frozen=True)
class Person:
    email: str
    first: str
    last: str
    role: str
    services: tuple[str, ...] = ()
    mobile: str = ""


CITIZENS = [
    Person(
        "camille.martin@example.fr", "Camille", "Martin", User.Role.CITIZEN, mobile="0612345678"
    ),
    Person("louis.bernard@example.fr", "Louis", "Bernard", User.Role.CITIZEN, mobile="0698765432"),
    Person("aicha.benali@example.fr", "Aïcha", "Benali", User.Role.CITIZEN),
]
AGENTS = [
    Person("alice.durand@guichet.example.fr", "Alice", "Durand", User.Role.AGENT, ("fiscalite",)),
    Person("marc.petit@guichet.example.fr", "Marc", "Petit", User.Role.AGENT, ("fiscalite",)),
    Person("nadia.leroy@guichet.example.fr", "Nadia", "Leroy", User.Role.AGENT, ("social",)),
    Person("thomas.moreau@guichet.example.fr", "Thomas", "Moreau", User.Role.AGENT, ("social",)),
]
SUPERVISORS = [
    Person(
        "sophie.lambert@guichet.example.fr",
        "Sophie",
        "Lambert",
        User.Role.SUPERVISOR,
        ("fiscalite", "social"),
    ),
]
ADMIN = Person("admin@guichet.example.fr", "Admin", "Guichet", User.Role.ADMIN)

# (topic, kind, subject, citizen's message, agent's answer)
THREADS = [
    (
        "impots",
        "question",
        "Changement d'adresse après déménagement",
        "Bonjour, j'ai déménagé le 1er septembre à Lyon. Mon avis d'impôt est encore parti à "
        "mon ancienne adresse. Comment faire la mise à jour ?",
        "Bonjour, vous pouvez modifier votre adresse dans votre espace particulier, rubrique "
        "« Gérer mon profil ». Nous avons noté votre nouvelle adresse pour les prochains envois.",
    ),
    (
        "impots",
        "claim",
        "Contestation de la taxe d'habitation",
        "Je reçois une taxe d'habitation pour un logement que j'ai quitté en décembre. "
        "Je joins mon état des lieux de sortie.",
        "Bonjour, après vérification, le dégrèvement a été prononcé. Vous recevrez un avis "
        "rectificatif sous trois semaines.",
    ),
    (
        "impots",
        "difficulty",
        "Prélèvement à la source trop élevé",
        "Mon taux de prélèvement est passé à 11 % alors que mes revenus ont baissé. "
        "Est-ce normal ?",
        "Bonjour, vous pouvez moduler votre taux à la baisse dans la rubrique « Gérer mon "
        "prélèvement à la source ». La modification s'applique sous deux mois.",
    ),
    (
        "titres",
        "question",
        "Délai pour un passeport",
        "Bonjour, je pars à l'étranger en juillet. Quel est le délai actuel pour obtenir un "
        "passeport ?",
        "Bonjour, les délais varient selon les mairies : prenez rendez-vous dès maintenant et "
        "pensez à la pré-demande en ligne.",
    ),
    (
        "titres",
        "information",
        "Vente de mon véhicule",
        "Je vous informe que j'ai vendu ma voiture le 12 octobre, voici le certificat de cession.",
        "Merci, la déclaration de cession est bien enregistrée.",
    ),
    (
        "compte",
        "difficulty",
        "Impossible de me connecter",
        "Depuis hier, mon mot de passe est refusé et je n'arrive pas à le réinitialiser.",
        "Bonjour, votre compte a été débloqué. Utilisez le lien « Mot de passe oublié » pour "
        "en choisir un nouveau.",
    ),
    (
        "sante",
        "claim",
        "Remboursement de consultation non reçu",
        "J'ai consulté un spécialiste le 3 octobre et je n'ai toujours pas été remboursé.",
        "Bonjour, la feuille de soins a bien été reçue : le remboursement sera versé sous 5 jours.",
    ),
    (
        "sante",
        "question",
        "Carte Vitale perdue",
        "J'ai perdu ma carte Vitale dans le train. Que dois-je faire ?",
        "Bonjour, vous pouvez commander une nouvelle carte depuis votre compte. En attendant, "
        "une attestation de droits suffit chez le médecin.",
    ),
    (
        "etudiants",
        "question",
        "Dossier de bourse en attente",
        "Mon dossier social étudiant est en attente depuis un mois, il manque une pièce ?",
        "Bonjour, il manque l'avis fiscal de vos parents. Déposez-le dans votre dossier.",
    ),
    (
        "etudiants",
        "difficulty",
        "Logement étudiant : caution",
        "Je n'ai pas de garant pour mon logement étudiant, quelles solutions existent ?",
        "Bonjour, la garantie Visale peut se porter caution gratuitement pour vous.",
    ),
    (
        "emploi",
        "claim",
        "Allocation non versée ce mois-ci",
        "Mon allocation de retour à l'emploi n'a pas été versée ce mois-ci, je suis inquiet.",
        "Bonjour, votre actualisation n'avait pas été reçue. Elle a été régularisée et le "
        "versement interviendra sous 48 heures.",
    ),
    (
        "emploi",
        "information",
        "Reprise d'un emploi à temps partiel",
        "Je vous informe que j'ai repris un emploi à mi-temps depuis le 4 novembre.",
        "Merci pour cette information, elle sera prise en compte dans votre prochaine "
        "actualisation.",
    ),
]

# Target statuses for the generated cases: every status is represented.
STATUS_PLAN = (
    [Case.Status.NEW] * 6
    + [Case.Status.ASSIGNED] * 4
    + [Case.Status.IN_PROGRESS] * 4
    + [Case.Status.WAITING_CITIZEN] * 5
    + [Case.Status.ANSWERED] * 6
    + [Case.Status.CLOSED] * 6
)


def _upsert_person(person: Person, services: dict[str, Service]) -> User:
    user = User.objects.filter(email__iexact=person.email).first() or User(
        username=person.email, email=person.email
    )
    user.first_name, user.last_name, user.role = person.first, person.last, person.role
    user.mobile_phone = person.mobile and phones.parse_mobile(person.mobile)
    user.notify_sms = bool(person.mobile)
    user.is_staff = person.role == User.Role.ADMIN
    user.is_superuser = person.role == User.Role.ADMIN
    user.set_password(DEMO_PASSWORD)
    user.save()
    if person.role in (User.Role.AGENT, User.Role.SUPERVISOR):
        profile, _ = AgentProfile.objects.get_or_create(user=user)
        profile.services.set([services[code] for code in person.services])
        skill_codes = [slug for code in person.services for slug in SERVICES[code][1]]
        profile.skills.set(Skill.objects.filter(code__in=skill_codes))
    return user


def ensure_reference_data() -> dict[str, Service]:
    """Services, one skill per topic and the topics' service mapping (topics come from the KB)."""
    services = {}
    for code, (name, topic_slugs, phone) in SERVICES.items():
        service, _ = Service.objects.update_or_create(
            code=code, defaults={"name": name, "phone": phone}
        )
        services[code] = service
        for position, slug in enumerate(topic_slugs):
            skill, _ = Skill.objects.update_or_create(
                code=slug, defaults={"name": SKILL_NAMES[slug]}
            )
            Topic.objects.filter(slug=slug).update(service=service, skill=skill, position=position)
    return services


@transaction.atomic
def load_people(services: dict[str, Service]) -> dict[str, list[User]]:
    return {
        "citizens": [_upsert_person(p, services) for p in CITIZENS],
        "agents": [_upsert_person(p, services) for p in AGENTS],
        "supervisors": [_upsert_person(p, services) for p in SUPERVISORS],
        "admins": [_upsert_person(ADMIN, services)],
    }


@transaction.atomic
def load_cases(people: dict[str, list[User]], seed: int = 2026) -> int:
    """Create the demo cases once (skipped when the demo citizens already have cases)."""
    citizens = people["citizens"]
    if Case.objects.filter(citizen__in=citizens).exists():
        return 0
    rng = random.Random(seed)
    now = timezone.now()
    agents_by_service: dict[int, list[User]] = {}
    for agent in people["agents"]:
        for service_id in agent.agent_profile.services.values_list("id", flat=True):
            agents_by_service.setdefault(service_id, []).append(agent)
    topics = {t.slug: t for t in Topic.objects.select_related("service")}
    created = 0
    for index, status in enumerate(STATUS_PLAN):
        topic_slug, kind, subject, question, answer = THREADS[index % len(THREADS)]
        topic = topics.get(topic_slug)
        if topic is None:
            continue
        citizen = citizens[index % len(citizens)]
        opened = now - timedelta(days=rng.randint(1, 28), hours=rng.randint(0, 8))
        case, first = open_case(
            citizen=citizen,
            topic=topic,
            kind=kind,
            channel="web",
            subject=subject,
            body=question,
            route=False,
        )
        Case.objects.filter(pk=case.pk).update(created_at=opened, last_activity_at=opened)
        Event.objects.filter(pk=first.pk).update(created_at=opened)
        case.created_at = opened
        created += 1
        if status == Case.Status.NEW:
            continue
        agent = rng.choice(agents_by_service[topic.service_id])
        at = opened + timedelta(hours=rng.randint(1, 20))
        Case.objects.filter(pk=case.pk).update(assigned_to=agent, assigned_at=at)
        case.assigned_to = agent
        add_event(case, Event.Type.ASSIGNMENT, payload={"agent": agent.pk}, internal=True, at=at)
        _set_status(case, Case.Status.ASSIGNED, agent, at)
        if status == Case.Status.ASSIGNED:
            continue
        at += timedelta(hours=rng.randint(1, 30))
        add_event(
            case,
            Event.Type.NOTE,
            actor=agent,
            internal=True,
            body="Usager déjà connu du service, dossier complet.",
            at=at,
        )
        _set_status(case, Case.Status.IN_PROGRESS, agent, at)
        if status == Case.Status.IN_PROGRESS:
            continue
        if status == Case.Status.WAITING_CITIZEN:
            at += timedelta(hours=2)
            add_event(
                case,
                Event.Type.REQUEST_INFO,
                actor=agent,
                body="Pouvez-vous nous transmettre un justificatif (avis, attestation ou "
                "facture) pour compléter votre dossier ?",
                at=at,
            )
            Case.objects.filter(pk=case.pk).update(first_response_at=at)
            _set_status(case, Case.Status.WAITING_CITIZEN, agent, at)
            continue
        at += timedelta(hours=rng.randint(1, 24))
        add_event(case, Event.Type.MESSAGE, actor=agent, body=answer, at=at)
        Case.objects.filter(pk=case.pk).update(first_response_at=at)
        _set_status(case, Case.Status.ANSWERED, agent, at)
        if status == Case.Status.CLOSED:
            at += timedelta(days=1)
            _set_status(case, Case.Status.CLOSED, agent, at, resolution="answered")
    return created


def _set_status(case: Case, status: str, actor: User, at, resolution: str = "") -> None:
    event = change_status(case, status, actor=actor, resolution=resolution)
    if event is not None:
        Event.objects.filter(pk=event.pk).update(created_at=at)
        update = {"last_activity_at": at}
        if status == Case.Status.CLOSED:
            update["closed_at"] = at
        Case.objects.filter(pk=case.pk).update(**update)


def credentials() -> list[tuple[str, str, str]]:
    rows = [("Usager", p.email, f"{p.first} {p.last}") for p in CITIZENS]
    rows += [("Agent", p.email, f"{p.first} {p.last} — {', '.join(p.services)}") for p in AGENTS]
    rows += [("Superviseur", p.email, f"{p.first} {p.last}") for p in SUPERVISORS]
    rows += [("Administrateur", ADMIN.email, "Django admin : /admin/")]
    return rows
