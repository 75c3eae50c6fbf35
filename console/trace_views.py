"""« Ce qu'il faut retenir » after a co-browsing session or a visio: the channel's end page
includes ``console/_contact_trace.html`` (a form posting here with the contact event), so that
the channel apps need no code of their own to send the trace (core's ``post_contact_trace``)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contactcenter.decorators import apply_errors, staff_required
from contactcenter.idempotency import idempotent
from contactcenter.models import Event
from contactcenter.permissions import get_case_or_404
from contactcenter.traces import post_contact_trace

from .forms import ContactTraceForm

# Contacts whose end page offers the trace (a phone call, a callback and a contact recorded by
# hand have their own form); a trace is offered for a day after the contact.
TRACEABLE_TYPES = (Event.Type.COBROWSE, Event.Type.VISIO)
TRACE_WINDOW = timedelta(hours=24)


def _next(request, fallback: str) -> str:
    candidate = request.POST.get("next", "")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


@require_POST
@staff_required
@idempotent
def contact_trace(request, event_id: int):
    """Post the agent's trace of a co-browsing session or a visio to the citizen (the contact's
    case, checked like any case URL: another service's case is a 404)."""
    contact = (
        Event.objects.filter(pk=event_id, type__in=TRACEABLE_TYPES)
        .only("id", "case_id", "type", "channel", "created_at")
        .first()
    )
    if contact is None:
        raise Http404("Contact introuvable")
    case = get_case_or_404(request.user, pk=contact.case_id)
    form = ContactTraceForm(request.POST)
    status = 400
    notice = ""
    if contact.created_at < timezone.now() - TRACE_WINDOW:
        form.add_error(None, _("Ce contact date de plus d'un jour : écrivez plutôt à l'usager."))
        status = 409
    elif form.is_valid():
        try:
            post_contact_trace(
                case,
                request.user,
                form.cleaned_data["body"],
                contact.channel or contact.type,
                contact=contact,
                allow_closed=True,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            notice = _("Ce qu'il faut retenir est envoyé à l'usager ; il est prévenu.")
            status = 200
    fallback = reverse("console:case", args=[case.reference])
    if not request.htmx:
        if notice:
            messages.success(request, notice)
        else:
            errors = [*form.non_field_errors(), *form["body"].errors]
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect(_next(request, fallback))
    context = {"contact": contact, "trace_form": form, "trace_notice": notice}
    return render(request, "console/_contact_trace.html", context, status=status)
