"""The citizen's "Mes démarches" page: each démarche with its current step, its history and
the action it waits for (a link, or a document to send from here)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contactcenter.decorators import citizen_required
from contactcenter.exceptions import InvalidState, NotFound
from contactcenter.idempotency import idempotent
from contactcenter.views import private_file_response

from . import services
from .forms import DocumentForm
from .models import DemarcheStep


def _page(request, form_for=None, form=None, status=200):
    demarches = list(services.citizen_demarches(request.user))
    for demarche in demarches:
        demarche.form = form if form_for == demarche.public_id else DocumentForm()  # type: ignore[attr-defined]
    return render(
        request,
        "demarches/list.html",
        {
            "open_demarches": [d for d in demarches if not d.is_closed],
            "closed_demarches": [d for d in demarches if d.is_closed],
        },
        status=status,
    )


@require_GET
@citizen_required
def demarche_list(request):
    return _page(request)


@require_POST
@citizen_required
@idempotent
def send_document(request, public_id):
    form = DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form_for=public_id, form=form, status=400)
    try:
        services.citizen_document(request.user, str(public_id), form.checked)
    except NotFound:
        raise Http404 from None
    except InvalidState as exc:
        messages.error(request, exc.message)
        return redirect("demarches:list")
    messages.success(request, _("Votre document a bien été envoyé au service."))
    return redirect("demarches:list")


@require_GET
@citizen_required
def download(request, public_id, document_id):
    entry = (
        DemarcheStep.objects.filter(
            public_id=document_id,
            demarche__public_id=public_id,
            demarche__citizen=request.user,
        )
        .exclude(document="")
        .first()
    )
    if entry is None:
        raise Http404
    return private_file_response(entry.document, entry.document_name, entry.document_type)
