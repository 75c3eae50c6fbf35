"""Translated labels of choices, built once per language (pages and API read many rows).

Translating every lazy choice label again on each request (``get_FOO_display`` hashes every
lazy label of the field for every row) was a measurable part of building a page. The dicts are
shared between requests: read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import translation

_LABELS: dict[tuple, Any] = {}


def per_language(name: object, build: Callable[[], Any]) -> Any:
    """``build()`` once per (name, active language), then the same read-only value."""
    key = (name, translation.get_language())
    value = _LABELS.get(key)
    if value is None:
        value = _LABELS[key] = build()
    return value


def choice_labels(choices_class: Any) -> dict[str, str]:
    """``value -> label`` of a Choices class in the active language (cached, read-only)."""
    labels: dict[str, str] = per_language(
        choices_class, lambda: {value: str(label) for value, label in choices_class.choices}
    )
    return labels
