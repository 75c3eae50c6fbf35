"""``{{ number|phone }}``: a stored phone number as people read it (contactcenter.phones)."""

from django import template

from contactcenter.phones import format_phone

register = template.Library()


@register.filter(name="phone")
def phone(value: str) -> str:
    return format_phone(value or "")
