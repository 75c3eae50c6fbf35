from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _

from .models import AgentPresence, CallbackRequest, Closure, OpeningHours, SlaPolicy, Team
from .teams import agents_of


@admin.register(OpeningHours)
class OpeningHoursAdmin(admin.ModelAdmin):
    # No inline on Service: each range is validated against the saved ones (no overlap).
    list_display = ("service", "weekday", "start", "end", "on_holidays")
    list_filter = ("service", "weekday")


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ("reason", "service", "start_date", "end_date")
    list_filter = ("service",)
    date_hierarchy = "start_date"


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ("channel", "kind", "service", "amount", "unit")
    list_filter = ("channel", "service")


@admin.register(AgentPresence)
class AgentPresenceAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "status",
        "status_since",
        "last_heartbeat",
        "capacity_chat",
        "capacity_phone",
        "capacity_web",
    )
    list_filter = ("status",)
    search_fields = ("user__email", "user__last_name")
    readonly_fields = ("status", "status_since", "last_heartbeat", "auto_offline", "resume_status")


@admin.register(CallbackRequest)
class CallbackRequestAdmin(admin.ModelAdmin):
    list_display = ("case", "slot_start", "status", "attempts")
    list_filter = ("status",)
    raw_id_fields = ("case",)


class TeamAdminForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["service", "name", "members"]

    def clean(self):
        cleaned = super().clean() or {}
        service, members = cleaned.get("service"), cleaned.get("members")
        if service is not None and members:
            allowed = set(agents_of(service.pk).values_list("pk", flat=True))
            strangers = [str(user) for user in members if user.pk not in allowed]
            if strangers:
                self.add_error(
                    "members",
                    _("Ne travaillent pas pour ce service : %(names)s.")
                    % {"names": ", ".join(strangers)},
                )
        return cleaned


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamAdminForm
    list_display = ("name", "service")
    list_filter = ("service",)
    search_fields = ("name",)
    filter_horizontal = ("members",)
