"""Demo: two types of démarche, the demo business system's API client, and a few démarches
for the demo citizens (loaded on ``demo_loaded``, once)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.api_clients import create_api_client
from accounts.models import ApiClient
from contactcenter.models import Service

from .models import Demarche, DemarcheStep, DemarcheType, DemarcheTypeStep

DEMO_CLIENT = "SI Titres et bourses (démo)"

# code, name, name_en, service code, steps: (code, label, label_en, action, action_en, url)
TYPES = [
    (
        "passeport",
        "Demande de passeport",
        "Passport application",
        "fiscalite",
        [
            ("depot", "Dossier déposé", "Application filed", "", "", ""),
            (
                "piece-manquante",
                "Pièce manquante",
                "Missing document",
                "fournir une photo d'identité conforme",
                "send a compliant ID photo",
                "",
            ),
            ("instruction", "En cours d'instruction", "Being processed", "", "", ""),
            ("production", "Titre en fabrication", "Being produced", "", "", ""),
            (
                "disponible",
                "Titre disponible en mairie",
                "Ready for collection at the town hall",
                "prendre rendez-vous pour le retrait",
                "book an appointment to collect it",
                "https://rendezvouspasseport.ants.gouv.fr/",
            ),
            ("remis", "Titre remis", "Handed over", "", "", ""),
        ],
    ),
    (
        "bourse",
        "Bourse sur critères sociaux",
        "Means-tested study grant",
        "social",
        [
            ("depot", "Dossier déposé", "Application filed", "", "", ""),
            ("instruction", "En cours d'instruction", "Being processed", "", "", ""),
            ("decision", "Décision rendue", "Decision made", "", "", ""),
            ("paiement", "Premier versement effectué", "First payment made", "", "", ""),
        ],
    ),
]

# citizen index, type, reference, steps reached (days ago), closed
DEMARCHES = [
    (0, "passeport", "PASS-2026-000417", [("depot", 12), ("piece-manquante", 3)], False),
    (1, "bourse", "BCS-2026-88123", [("depot", 20), ("instruction", 9)], False),
    (2, "passeport", "PASS-2026-000102", [("depot", 40), ("instruction", 30), ("remis", 6)], True),
    (0, "bourse", "BCS-2026-88007", [("depot", 25), ("instruction", 18), ("decision", 2)], False),
]


def ensure_types() -> dict[str, DemarcheType]:
    types = {}
    for code, name, name_en, service_code, steps in TYPES:
        service = Service.objects.get(code=service_code)
        demarche_type, _ = DemarcheType.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "service": service}
        )
        for position, (step, label, label_en, action, action_en, url) in enumerate(steps):
            DemarcheTypeStep.objects.update_or_create(
                type=demarche_type,
                code=step,
                defaults={
                    "position": position,
                    "label": label,
                    "label_en": label_en,
                    "requires_action": bool(action),
                    "action_label": action,
                    "action_label_en": action_en,
                    "action_url": url,
                },
            )
        types[code] = demarche_type
    return types


def demo_client() -> ApiClient:
    client = ApiClient.objects.filter(application__name=DEMO_CLIENT).first()
    if client is None:
        client = create_api_client(
            DEMO_CLIENT,
            Service.objects.filter(code__in=["fiscalite", "social"]),
            [ApiClient.Scope.DEMARCHES_WRITE, ApiClient.Scope.WEBHOOKS],
        ).client
    return client


@transaction.atomic
def load_demarches(citizens: list) -> int:
    types = ensure_types()
    client = demo_client()
    if Demarche.objects.filter(client=client).exists():
        return 0
    now = timezone.now()
    for index, type_code, reference, reached, closed in DEMARCHES:
        demarche_type = types[type_code]
        steps = {step.code: step for step in demarche_type.steps.all()}
        first_at = now - timedelta(days=reached[0][1])
        last_code, last_days = reached[-1]
        demarche = Demarche.objects.create(
            citizen=citizens[index % len(citizens)],
            type=demarche_type,
            client=client,
            external_reference=reference,
            current_step=steps[last_code],
            created_at=first_at,
            updated_at=now - timedelta(days=last_days),
            closed_at=now - timedelta(days=last_days) if closed else None,
        )
        for position, (code, days) in enumerate(reached):
            kind = DemarcheStep.Kind.STEP
            if position == 0:
                kind = DemarcheStep.Kind.CREATED
            elif closed and position == len(reached) - 1:
                kind = DemarcheStep.Kind.CLOSED
            DemarcheStep.objects.create(
                demarche=demarche,
                kind=kind,
                step=steps[code],
                actor=client.account,
                created_at=now - timedelta(days=days, hours=2),
            )
    return len(DEMARCHES)


def on_demo_loaded(sender, people=None, **kwargs):
    if people:
        load_demarches(people["citizens"])
