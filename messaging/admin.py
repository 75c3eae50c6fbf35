"""Admin views of the outbox (operations: see failures, send again) and attachments metadata.

File contents are never exposed here: attachments are read through the audited view.
"""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import Attachment, Notification
from .tasks import send_notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "recipient", "channel", "kind", "status", "attempts", "sent_at")
    list_filter = ("status", "channel", "kind")
    search_fields = ("recipient__email", "address", "case__reference", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("recipient",)
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Renvoyer maintenant (échecs et en attente)"))
    def send_again(self, request, queryset):
        rows = list(
            queryset.filter(
                status__in=[Notification.Status.FAILED, Notification.Status.PENDING]
            ).values_list("pk", flat=True)
        )
        Notification.objects.filter(pk__in=rows).update(
            status=Notification.Status.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
        for pk in rows:
            send_notification.delay_on_commit(pk)
        self.message_user(
            request,
            ngettext("%d notification renvoyée.", "%d notifications renvoyées.", len(rows))
            % len(rows),
            messages.SUCCESS,
        )


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ("original_name", "case", "content_type", "size", "uploaded_by", "created_at")
    list_filter = ("content_type",)
    search_fields = ("case__reference", "original_name", "sha256")
    list_select_related = ("case", "uploaded_by")
    # Not "file": its URL would be public; the file is read through the audited view.
    fields = readonly_fields = tuple(f.name for f in Attachment._meta.fields if f.name != "file")

    def has_add_permission(self, request):
        return False
