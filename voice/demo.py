"""Demo: a published voice menu for every service that has a phone number (idempotent: a
service that already has a menu is left alone)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from contactcenter.models import Service

from .models import Menu, MenuNode

# What each demo service's callbot should expect to hear (Menu.callbot_hints): the main
# procedures of its topics in the demo knowledge base.
DEMO_HINTS = {
    "fiscalite": (
        "Impôts, déclaration de revenus, prélèvement à la source, avis d'impôt, passeport, "
        "carte d'identité, carte grise, permis de conduire, mot de passe, espace particulier."
    ),
    "social": (
        "Carte Vitale, attestation de droits, arrêt de travail, médecin traitant, "
        "remboursement, bourse, Crous, France Travail, actualisation, allocations chômage."
    ),
}


@transaction.atomic
def load_demo() -> int:
    created = 0
    for service in Service.objects.exclude(phone="").order_by("pk"):
        if Menu.objects.filter(service=service).exists():
            continue
        menu = Menu.objects.create(
            service=service,
            version=1,
            status=Menu.Status.PUBLISHED,
            published_at=timezone.now(),
            welcome=f"Bienvenue. Vous êtes en relation avec le service : {service.name}.",
            callbot_hints=DEMO_HINTS.get(service.code, ""),
        )
        MenuNode.objects.create(
            menu=menu,
            digit="1",
            label="suivre une demande avec son numéro",
            action=MenuNode.Action.TRACK_REQUEST,
        )
        MenuNode.objects.create(
            menu=menu,
            digit="2",
            label="nous écrire",
            action=MenuNode.Action.MESSAGE,
            prompt=(
                "Vous pouvez nous écrire à tout moment depuis votre espace en ligne : votre "
                "demande reçoit un numéro, que vous pourrez suivre par téléphone."
            ),
        )
        created += 1
    return created


def on_demo_loaded(sender: Any, **kwargs: Any) -> None:
    load_demo()
