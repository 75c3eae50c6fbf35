"""Downloading an e-mail's accepted attachment (thin: the case's visibility rules decide)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from contactcenter.models import AuditLog
from contactcenter.permissions import get_case_or_404, record_access
from contactcenter.views import private_file_response

from .models import MailAttachment


@login_required
@require_GET
def attachment_download(request, pk) -> FileResponse:
    """Whoever may see the case gets the file (404 otherwise); staff reads are audited."""
    attachment = MailAttachment.objects.select_related("message__event").filter(pk=pk).first()
    message = attachment.message if attachment is not None else None
    if attachment is None or message is None or message.case_id is None:
        raise Http404("Pièce jointe introuvable")
    case = get_case_or_404(request.user, pk=message.case_id)
    if message.event is not None and message.event.internal and not request.user.is_staff_member:
        raise Http404("Pièce jointe introuvable")
    if request.user.is_staff_member:
        record_access(
            request.user,
            AuditLog.Action.VIEW_ATTACHMENT,
            case=case,
            detail={"mail_attachment": str(attachment.pk), "name": attachment.original_name},
        )
    return private_file_response(attachment.file, attachment.original_name, attachment.content_type)
