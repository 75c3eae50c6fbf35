from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import MailAttachment, Mailbox, MailMessage, QuarantinedMail


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ("address", "service", "host", "port", "security", "enabled", "last_polled_at")
    list_filter = ("enabled", "service")
    readonly_fields = ("last_polled_at", "last_error")
    fieldsets = (
        (None, {"fields": ("service", "address", "default_topic", "enabled")}),
        (
            _("Serveur IMAP"),
            {"fields": ("host", "port", "security", "login", "password_env", "folder")},
        ),
        (_("Relève"), {"fields": ("poll_interval", "last_polled_at", "last_error")}),
    )


class MailAttachmentInline(admin.TabularInline):
    model = MailAttachment
    extra = 0
    can_delete = False
    fields = ("original_name", "content_type", "size", "sha256")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MailMessage)
class MailMessageAdmin(admin.ModelAdmin):
    list_display = ("subject", "direction", "status", "sender", "recipient", "case", "created_at")
    list_filter = ("direction", "status", "automatic", "mailbox")
    search_fields = ("subject", "sender", "recipient", "message_id", "case__reference")
    inlines = [MailAttachmentInline]
    readonly_fields = [f.name for f in MailMessage._meta.fields if f.name != "raw"] + ["source"]
    exclude = ("raw",)

    @admin.display(description=_("source"))
    def source(self, obj: MailMessage) -> str:
        return bytes(obj.raw or b"").decode("utf-8", "replace")

    def has_add_permission(self, request):
        return False


@admin.register(QuarantinedMail)
class QuarantinedMailAdmin(admin.ModelAdmin):
    list_display = ("created_at", "mailbox", "uid", "error")
    list_filter = ("mailbox",)
    readonly_fields = ("mailbox", "uid", "error", "created_at", "source")
    exclude = ("raw", "key")

    @admin.display(description=_("source"))
    def source(self, obj: QuarantinedMail) -> str:
        return bytes(obj.raw or b"").decode("utf-8", "replace")

    def has_add_permission(self, request):
        return False
