from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import AgentProfile, AuditLog, Case, Event, Service, Skill, Topic, Transfer, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("email", "first_name", "last_name", "role", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("email", "first_name", "last_name", "tax_number", "social_number")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (
            _("Guichet"),
            {
                "fields": (
                    "role",
                    "mobile_phone",
                    "notify_email",
                    "notify_sms",
                    "tax_number",
                    "social_number",
                )
            },
        ),
    )


class AgentProfileInline(admin.StackedInline):
    model = AgentProfile
    filter_horizontal = ("services", "skills")


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "holiday_zone", "is_active")
    list_filter = ("holiday_zone",)
    search_fields = ("name", "code")


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("name", "code")


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "service", "skill", "is_active")
    list_filter = ("service", "is_active")


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("user",)
    filter_horizontal = ("services", "skills")


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("reference", "subject", "service", "status", "channel", "last_activity_at")
    list_filter = ("status", "channel", "service")
    search_fields = ("reference", "subject", "citizen__email")
    raw_id_fields = ("citizen", "assigned_to")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("case", "type", "channel", "actor", "internal", "created_at")
    list_filter = ("type", "channel")
    raw_id_fields = ("case", "citizen", "actor")


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    list_display = ("case", "from_service", "to_service", "to_agent", "created_at", "accepted_at")
    raw_id_fields = ("case", "to_agent", "created_by")


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "actor_service", "citizen", "case", "action")
    list_filter = ("action", "actor_service")
    raw_id_fields = ("actor", "citizen", "case")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
