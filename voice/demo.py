"""Demo: a published voice menu for every service that has a phone number (idempotent: a
service that already has a menu is left alone)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from contactcenter.models import Service

from .models import Menu, MenuNode


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
