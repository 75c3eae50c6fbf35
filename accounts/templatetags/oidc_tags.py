"""``{% load oidc_tags %}{% oidc_buttons %}``: the FranceConnect and ProConnect buttons of the
configured providers (none when no provider is configured). ``citizens_only=True`` leaves out
ProConnect (the public home, the sign-up page)."""

from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("accounts/oidc_account.html")
def oidc_account(user):
    """The FranceConnect part of "Mon compte": linked, or the way to link it."""
    from accounts.models import OidcIdentity

    return {
        "enabled": "franceconnect" in settings.OIDC_PROVIDERS and user.is_citizen,
        "linked": OidcIdentity.objects.filter(provider="franceconnect", user=user).exists(),
    }


@register.inclusion_tag("accounts/oidc_buttons.html", takes_context=True)
def oidc_buttons(context, citizens_only=False):
    return {
        "oidc_providers": dict.fromkeys(settings.OIDC_PROVIDERS, True),
        "citizens_only": citizens_only,
        "next": context.get("next", ""),
        "csrf_token": context.get("csrf_token"),
    }
