from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from routing.calendar import local_tz

from .slots import Slot


def slot_label(slot: Slot) -> str:
    local = slot.start.astimezone(local_tz())
    return f"{formats.date_format(local, 'l j F')} — {formats.time_format(local, 'H:i')}"


class SlotForm(forms.Form):
    slot = forms.ChoiceField(label=_("Créneau"), widget=forms.RadioSelect)

    def __init__(self, *args, slots: list[Slot], **kwargs):
        super().__init__(*args, **kwargs)
        self.refresh(slots)
        self.fields["slot"].error_messages["invalid_choice"] = _(
            "Ce créneau n'est plus proposé. Choisissez-en un autre."
        )

    def clean_slot(self) -> datetime:
        return datetime.fromisoformat(self.cleaned_data["slot"])

    def refresh(self, slots: list[Slot]) -> None:
        """Offer these slots (a slot taken meanwhile disappears from the list shown again)."""
        field = self.fields["slot"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(s.value, slot_label(s)) for s in slots]
