from django.contrib import admin

from .models import Demarche, DemarcheStep, DemarcheType, DemarcheTypeStep


class StepInline(admin.TabularInline):
    model = DemarcheTypeStep
    extra = 1
    fields = [
        "position",
        "code",
        "label",
        "label_en",
        "requires_action",
        "action_label",
        "action_label_en",
        "action_url",
    ]


@admin.register(DemarcheType)
class DemarcheTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "service", "is_active"]
    list_filter = ["service", "is_active"]
    search_fields = ["name", "code"]
    inlines = [StepInline]


class HistoryInline(admin.TabularInline):
    model = DemarcheStep
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "step", "note", "actor", "document_name")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Demarche)
class DemarcheAdmin(admin.ModelAdmin):
    """Read only: démarches are written by their business system through the API."""

    list_display = [
        "external_reference",
        "type",
        "current_step",
        "client",
        "updated_at",
        "closed_at",
    ]
    list_filter = ["type", "closed_at"]
    search_fields = ["external_reference"]
    list_select_related = ["type", "current_step", "client__application"]
    readonly_fields = [
        "public_id",
        "citizen",
        "type",
        "client",
        "external_reference",
        "current_step",
        "created_at",
        "updated_at",
        "closed_at",
        "step_reached_at",
        "action_reminders_sent",
    ]
    inlines = [HistoryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
