"""Endpoints that keep failing are disabled, and the administrators told.

Every attempt of ``accounts.webhooks.deliver`` reports here: a success resets the endpoint's
``consecutive_failures``, a failure adds one. When the count reaches
``GUICHET_WEBHOOK_DISABLE_AFTER``, a conditional update (active and past the threshold) turns
the endpoint off, once even with concurrent workers, records when and why, and e-mails the
active administrators; its pending deliveries are then cancelled when their turn comes. An
administrator re-enables it in the admin (which resets the count); "Renvoyer" sends the failed
deliveries again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import override

from contactcenter.models import User

from .models import WebhookEndpoint

logger = logging.getLogger("accounts.webhooks")


def record_success(endpoint_id: int) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id, consecutive_failures__gt=0).update(
        consecutive_failures=0
    )


def record_failure(endpoint_id: int, error: str, now: datetime) -> bool:
    """Count a failed attempt; True when this call disabled the endpoint."""
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    threshold = settings.GUICHET_WEBHOOK_DISABLE_AFTER
    if threshold <= 0:
        return False
    reason = _("%(count)s échecs consécutifs, le dernier : %(error)s") % {
        "count": threshold,
        "error": error,
    }
    disabled = WebhookEndpoint.objects.filter(
        pk=endpoint_id, is_active=True, consecutive_failures__gte=threshold
    ).update(is_active=False, disabled_at=now, disabled_reason=reason[:500])
    if disabled != 1:
        return False
    from .webhooks import forget_endpoints

    forget_endpoints()
    logger.error("Webhook endpoint %s disabled: %s", endpoint_id, reason)
    transaction.on_commit(lambda: alert_admins(endpoint_id))
    return True


def alert_admins(endpoint_id: int) -> int:
    """E-mail the active administrators that an endpoint was disabled (its address, client
    and reason, a link to re-enable it). Returns the count of recipients."""
    endpoint = WebhookEndpoint.objects.select_related("client__application").get(pk=endpoint_id)
    recipients = sorted(
        User.objects.filter(is_active=True, role=User.Role.ADMIN)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    link = settings.SITE_URL + reverse("admin:accounts_webhookendpoint_change", args=[endpoint.pk])
    with override(settings.LANGUAGE_CODE):
        subject = _("Webhooks désactivés : %(url)s") % {"url": endpoint.url}
        body = "\n".join(
            [
                _(
                    "Le point de réception %(url)s du client « %(client)s » a été désactivé "
                    "après des échecs répétés."
                )
                % {"url": endpoint.url, "client": endpoint.client},
                _("Raison : %(reason)s") % {"reason": endpoint.disabled_reason},
                "",
                _(
                    "Les événements ne lui sont plus envoyés. Pour le réactiver, une fois le "
                    "problème corrigé : %(link)s"
                )
                % {"link": link},
            ]
        )
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, recipients).send()
    return len(recipients)
