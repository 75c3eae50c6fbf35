from django.contrib import admin

from .models import Appointment, AppointmentType, Availability, AvailabilityException


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = ("topic", "service", "mode", "duration_minutes", "buffer_minutes", "is_active")
    list_filter = ("service", "mode", "is_active")
    list_select_related = ("topic", "service")


@admin.register(Availability)
class AvailabilityAdmin(admin.ModelAdmin):
    list_display = ("agent", "service", "weekday", "start", "end", "modes")
    list_filter = ("service", "weekday")
    raw_id_fields = ("agent",)


@admin.register(AvailabilityException)
class AvailabilityExceptionAdmin(admin.ModelAdmin):
    list_display = ("agent", "day", "start", "end", "reason")
    date_hierarchy = "day"
    raw_id_fields = ("agent",)


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("start", "type", "agent", "status")
    list_filter = ("status", "mode", "service")
    date_hierarchy = "start"
    raw_id_fields = ("citizen", "agent", "case", "proposed_by")
    readonly_fields = ("public_id", "created_at", "cancelled_at", "marked_at")
