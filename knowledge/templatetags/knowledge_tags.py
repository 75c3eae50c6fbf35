from django import template

from knowledge import services

register = template.Library()


@register.simple_tag
def public_topics():
    """The FAQ's themes (topics with published public articles), e.g. for the public home."""
    return services.public_topics()
