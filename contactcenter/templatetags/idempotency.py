"""``{% idempotency_field form %}``: the hidden idempotency key of a creating form.

A fresh key each time the form is rendered; the key just posted when the form given is shown
again after a failed submission (bound with errors, or any true value), so that the corrected
form is the same submission (see ``contactcenter.idempotency``).
"""

from django import template
from django.forms import BaseForm
from django.utils.html import format_html

from ..idempotency import FIELD, KEPT_ATTR, new_key, valid_key

register = template.Library()


@register.simple_tag(takes_context=True)
def idempotency_field(context, retry=None):
    if isinstance(retry, BaseForm):
        retry = retry.is_bound and bool(retry.errors)
    key = None
    request = context.get("request")
    if retry and request is not None and request.method == "POST":
        posted = request.POST.get(FIELD, "")
        if valid_key(posted):
            key = posted
            setattr(request, KEPT_ATTR, True)  # this response is a failed submission
    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, key or new_key())
