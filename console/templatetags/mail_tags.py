"""The console menu's link to the e-mail quarantine, with its count (mail.quarantine)."""

from typing import Any

from django import template

from mail.quarantine import pending_count

register = template.Library()


@register.inclusion_tag("console/_quarantine_link.html", takes_context=True)
def quarantine_link(context: dict[str, Any], button_class: str) -> dict[str, Any]:
    """For staff of a service with a mailbox (agents, supervisors): nothing otherwise."""
    request = context.get("request")
    user = getattr(request, "user", None)
    count = pending_count(user) if user is not None else None
    current = bool(
        request is not None
        and request.resolver_match is not None
        and request.resolver_match.url_name in ("quarantine", "quarantine_item")
    )
    return {"count": count, "button_class": button_class, "current": current}
