from django import template

from cobrowse.services import is_online

register = template.Library()


@register.simple_tag
def cobrowse_citizen_online(citizen_id) -> bool:
    """Whether the citizen has a page of their space open right now (invitations reach them)."""
    try:
        return is_online(int(citizen_id))
    except (TypeError, ValueError):
        return False
