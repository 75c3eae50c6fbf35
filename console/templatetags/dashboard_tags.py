"""Template filters of the supervisor dashboard."""

from django import template

from ..dashboard_tables import format_value

register = template.Library()


@register.filter
def kpi(value, fmt: str = "number") -> str:
    """A raw indicator value in French: ``{{ figure|kpi:"percent" }}``."""
    return format_value(value, fmt)


@register.filter
def cells(table, row):
    """(value, format) pairs of one row of a dashboard table."""
    return table.cells(row)
