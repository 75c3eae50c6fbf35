from django import template

from visio import services

register = template.Library()


@register.simple_tag
def visio_rooms_of(user, case=None) -> list:
    """The open rooms ``user`` may join (of ``case`` only when given)."""
    if user is None or not user.is_authenticated:
        return []
    rooms = services.user_rooms(user)
    if case:
        rooms = [p for p in rooms if p.room.case_id == case.pk]
    return rooms
