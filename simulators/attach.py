""" "Joindre ma simulation": a citizen's simulation becomes a new secure-messaging request.

The request is opened through the core (``contactcenter.services.open_case``, like the forum's
"complex case"), in the topic ``GUICHET_SIMULATOR_TOPIC`` (``impots`` by default): its first
message is a structured summary of the inputs and of each step of the result, its payload the
summary's digest. Nothing else is stored: the simulation is recomputed here from the inputs
the citizen posts (never from a result sent by the browser), so a citizen only ever attaches
the simulation they ran. Attaching the same inputs twice returns the first request.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from contactcenter.models import Case, Channel, Event, Topic, User
from contactcenter.services import NOTIFY_ACKNOWLEDGEMENT, notify_citizen, open_case

if TYPE_CHECKING:
    from .forms import IncomeTaxForm
    from .income_tax import Result

SOURCE = "simulator"


def topic() -> Topic | None:
    slug = getattr(settings, "GUICHET_SIMULATOR_TOPIC", "impots")
    return Topic.objects.filter(slug=slug, is_active=True).select_related("service").first()


def inputs(form: IncomeTaxForm) -> list[tuple[str, str]]:
    """The filled-in fields of a valid form, as (label, value) in the form's order."""
    rows: list[tuple[str, str]] = []
    for name, field in form.fields.items():
        value = form.cleaned_data.get(name)
        if value in (None, "", 0, False):
            continue
        if name == "situation":
            shown = str(dict(form.fields[name].choices)[value])  # type: ignore[attr-defined]
        elif value is True:
            shown = _("oui")
        else:
            shown = str(value)
        rows.append((str(field.label), shown))
    return rows


def summary(form: IncomeTaxForm, result: Result, year: int) -> str:
    lines = [
        _(
            "Simulation de l'impôt sur le revenu %(year)s (revenus %(income)s), calculée avec "
            "OpenFisca-France."
        )
        % {"year": year, "income": year - 1},
        "",
        _("Ce que j'ai indiqué :"),
        *(f"- {label} : {value}" for label, value in inputs(form)),
        "",
        _("Résultat :"),
        *(f"{index}. {step}" for index, step in enumerate(result.steps, start=1)),
        _("Taux moyen : %(average)s %% · taux marginal : %(marginal)s %%")
        % {"average": result.average_rate, "marginal": int(result.marginal_rate * 100)},
    ]
    return "\n".join(lines)


def digest(form: IncomeTaxForm, year: int) -> str:
    data: dict[str, Any] = {k: v for k, v in form.cleaned_data.items() if v not in (None, 0, False)}
    data["year"] = year
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def attach_simulation(citizen: User, form: IncomeTaxForm, result: Result, year: int) -> Case:
    """Open the request with the simulation for ``citizen`` (once per set of inputs)."""
    target = topic()
    if target is None:
        raise ValidationError(_("Les demandes sur l'impôt ne sont pas ouvertes en ligne."))
    key = digest(form, year)
    with transaction.atomic():
        # One request per citizen and simulation, even for two clicks at once.
        User.objects.select_for_update().filter(pk=citizen.pk).first()
        existing = (
            Event.objects.filter(case__citizen=citizen, payload__simulation=key)
            .select_related("case")
            .first()
        )
        if existing is not None:
            return existing.case
        case, _event = open_case(
            citizen=citizen,
            topic=target,
            kind=Case.Kind.QUESTION,
            channel=Channel.WEB,
            subject=_("Ma simulation de l'impôt sur le revenu %(year)s") % {"year": year},
            body=summary(form, result, year),
            actor=citizen,
            payload={"source": SOURCE, "simulation": key},
        )
        notify_citizen(case, NOTIFY_ACKNOWLEDGEMENT)
    return case
