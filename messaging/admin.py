"""Admin views of the outbox (operations: see failures, send again) and attachments metadata.

File contents are never exposed here: attachments are read through the audited view.
"""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import notification_templates as templates
from .models import Attachment, Notification, NotificationTemplate
from .tasks import send_notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "recipient", "channel", "kind", "status", "attempts", "sent_at")
    list_filter = ("status", "channel", "kind")
    search_fields = ("recipient__email", "address", "case__reference", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("recipient",)
    readonly_fields = [f.name for f in Notification._meta.fields if f.name != "files"]
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


class NotificationTemplateForm(forms.ModelForm):
    event = forms.ChoiceField(
        label=_("alerte"), choices=[(code, spec.label) for code, spec in templates.EVENTS.items()]
    )

    class Meta:
        model = NotificationTemplate
        fields = ["service", "event", "channel", "language", "subject", "body"]


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(admin.ModelAdmin):
    """Each service's wording of its alerts. The model's ``clean`` refuses a placeholder that is
    unknown, sensitive or not given for the event, with the list of possible ones."""

    form = NotificationTemplateForm
    list_display = ("service", "event", "channel", "language", "updated_at", "updated_by")
    list_filter = ("service", "event", "channel", "language")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        help_text = _("Champs possibles : %(fields)s.") % {
            "fields": ", ".join(
                f"{{{name}}} ({label})" for name, label in templates.PLACEHOLDERS.items()
            )
        }
        form.base_fields["body"].help_text = help_text
        return form

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
