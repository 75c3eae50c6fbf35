"""``{{ case|trace_prefill }}``: the draft of « ce qu'il faut retenir » (core's
``contactcenter.traces.trace_prefill``) for forms included in other apps' pages."""

from django import template

from contactcenter.models import Case
from contactcenter.traces import trace_prefill as prefill

register = template.Library()


@register.filter
def trace_prefill(case: Case) -> str:
    return prefill(case) if isinstance(case, Case) else ""
