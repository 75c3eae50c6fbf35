"""Supervisors edit their services' alert templates (``messaging.NotificationTemplate``): a list
per service of every alert, channel and language (own wording or default), and an edit form
whose placeholders are checked on save (``messaging.notification_templates``)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from contactcenter.forms import DsfrFormMixin
from contactcenter.models import Service
from contactcenter.permissions import user_service_ids
from messaging import notification_templates as templates
from messaging.models import NotificationTemplate

from .dashboard_views import dashboard_access

CHANNELS = (("email", gettext_lazy("Courriel")), ("sms", gettext_lazy("SMS")))
LANGUAGES = (("fr", gettext_lazy("Français")), ("en", gettext_lazy("Anglais")))


class AlertTemplateForm(DsfrFormMixin, forms.Form):
    subject = forms.CharField(label=gettext_lazy("Objet"), max_length=200, required=False)
    body = forms.CharField(label=gettext_lazy("Texte"), widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, event: str, channel: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.event, self.channel = event, channel
        allowed = ", ".join(f"{{{name}}}" for name in templates.EVENTS[event].placeholders)
        self.fields["body"].help_text = _("Champs possibles : %(fields)s.") % {"fields": allowed}
        if channel == "sms":
            del self.fields["subject"]

    def clean(self):
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            templates.validate_template(
                self.event, self.channel, cleaned.get("subject", ""), cleaned["body"]
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    self.add_error(field if field in self.fields else None, error)
        return cleaned


def _services(user) -> list[Service]:
    services = Service.objects.order_by("name")
    if not user.is_admin_role:
        services = services.filter(pk__in=user_service_ids(user))
    return list(services)


@dashboard_access
def alert_template_list(request):
    services = _services(request.user)
    custom = set(
        NotificationTemplate.objects.filter(service__in=services).values_list(
            "service_id", "event", "channel", "language"
        )
    )
    sections = [
        {
            "service": service,
            "rows": [
                {
                    "event": event,
                    "label": spec.label,
                    "cells": [
                        {
                            "channel": channel,
                            "language": language,
                            "label": f"{channel_label} · {language_label}",
                            "custom": (service.pk, event, channel, language) in custom,
                        }
                        for channel, channel_label in CHANNELS
                        for language, language_label in LANGUAGES
                    ],
                }
                for event, spec in templates.EVENTS.items()
            ],
        }
        for service in services
    ]
    return render(
        request,
        "console/alert_templates.html",
        {"sections": sections, "page_title": _("Modèles d'alerte")},
    )


@dashboard_access
@require_http_methods(["GET", "POST"])
def alert_template_edit(request, service_id: int, event: str, channel: str, language: str):
    service = next((s for s in _services(request.user) if s.pk == service_id), None)
    if (
        service is None
        or event not in templates.EVENTS
        or channel not in dict(CHANNELS)
        or language not in dict(LANGUAGES)
    ):
        raise Http404
    row = NotificationTemplate.objects.filter(
        service=service, event=event, channel=channel, language=language
    ).first()
    if row is not None:
        initial = {"subject": row.subject, "body": row.body}
    else:
        subject, body = templates.default_template(event, channel, language)
        initial = {"subject": subject, "body": body}
    status = 200
    if request.method == "POST":
        form = AlertTemplateForm(request.POST, event=event, channel=channel)
        if form.is_valid():
            # Saving the same text twice changes nothing: the row is per (service, alert...).
            NotificationTemplate.objects.update_or_create(
                service=service,
                event=event,
                channel=channel,
                language=language,
                defaults={
                    "subject": form.cleaned_data.get("subject", ""),
                    "body": form.cleaned_data["body"],
                    "updated_by": request.user,
                },
            )
            messages.success(request, _("Le modèle d'alerte est enregistré."))
            return redirect("console:alert_templates")
        status = 400
    else:
        form = AlertTemplateForm(initial=initial, event=event, channel=channel)
    return render(
        request,
        "console/alert_template_edit.html",
        {
            "form": form,
            "service": service,
            "event_label": templates.EVENTS[event].label,
            "channel_label": dict(CHANNELS)[channel],
            "language_label": dict(LANGUAGES)[language],
            "custom": row is not None,
            "page_title": _("Modifier un modèle d'alerte"),
        },
        status=status,
    )
