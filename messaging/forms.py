"""Forms of the citizen space and of the agent thread (validation messages in French).

Body and file checks are the services' own (``contactcenter.services.check_message_body``,
``contactcenter.attachments.check_uploads``) so that pages, API and services say the same thing.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contactcenter import phones
from contactcenter.attachments import check_uploads
from contactcenter.forms import DsfrFormMixin
from contactcenter.models import Case, Topic, User
from contactcenter.services import check_message_body as check_body

from .models import AlertPreference
from .services import SUBJECT_MAX_CHARS, check_subject


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; returns a list (possibly empty)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget",
            MultipleFileInput(
                attrs={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"}
            ),
        )
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        if not isinstance(data, list | tuple):
            data = [data]
        files = [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        check_uploads(files)
        return files


FILES_HELP = _(
    "Facultatif. Jusqu'à 5 fichiers PDF, JPEG ou PNG de 10 Mo au plus chacun. "
    "En cas d'erreur dans le formulaire, sélectionnez-les à nouveau."
)


def _body_help() -> str:
    maximum = f"{settings.GUICHET_MESSAGE_MAX_CHARS:,}".replace(",", "\u202f")
    return gettext("Entre 1 et %(max)s caractères.") % {"max": maximum}


BODY_HELP = lazy(_body_help, str)()


def body_field(label=None, help_text=None):
    return forms.CharField(
        label=label or _("Votre message"),
        help_text=help_text or BODY_HELP,
        strip=False,
        required=False,  # the precise "empty" message comes from check_body
        widget=forms.Textarea(attrs={"rows": 8, "maxlength": settings.GUICHET_MESSAGE_MAX_CHARS}),
    )


class BodyCleanMixin(forms.BaseForm):
    def clean_body(self):
        return check_body(self.cleaned_data.get("body", ""))


class NewRequestForm(BodyCleanMixin, DsfrFormMixin, forms.Form):
    topic = forms.ModelChoiceField(
        queryset=Topic.objects.filter(is_active=True),
        to_field_name="slug",
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Choisissez un thème."),
            "invalid_choice": _("Choisissez un des thèmes proposés."),
        },
    )
    kind = forms.ChoiceField(
        choices=Case.Kind.choices,
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Choisissez la nature de votre demande."),
            "invalid_choice": _("Choisissez une des natures de demande proposées."),
        },
    )
    subject = forms.CharField(
        label=_("Objet"),
        help_text=_("En quelques mots, par exemple « Changement d'adresse »."),
        required=False,  # the precise messages come from check_subject
        widget=forms.TextInput(attrs={"maxlength": SUBJECT_MAX_CHARS, "autocomplete": "off"}),
    )
    body = body_field()
    # A declared field: the form's metaclass moves it into base_fields, so the instance's
    # .files (the uploaded files) is not shadowed at run time, only for the type checker.
    files = MultipleFileField(  # type: ignore[assignment]
        label=_("Pièces jointes"), help_text=FILES_HELP
    )
    chatbot = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)
    fragile = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_subject(self):
        return check_subject(self.cleaned_data.get("subject", ""))


class ReplyForm(BodyCleanMixin, DsfrFormMixin, forms.Form):
    body = body_field(label=_("Votre réponse"))
    # A declared field: the form's metaclass moves it into base_fields, so the instance's
    # .files (the uploaded files) is not shadowed at run time, only for the type checker.
    files = MultipleFileField(  # type: ignore[assignment]
        label=_("Pièces jointes"), help_text=FILES_HELP
    )


class PreferencesForm(DsfrFormMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = ["notify_email", "notify_sms", "mobile_phone"]
        labels = {
            "notify_email": _("Recevoir une alerte par courriel"),
            "notify_sms": _("Recevoir une alerte par SMS"),
            "mobile_phone": _("Numéro de téléphone mobile"),
        }
        help_texts = {
            "notify_email": _("À l'adresse de votre compte."),
            "notify_sms": _("Nécessite un numéro de mobile français."),
            "mobile_phone": _(
                "Un mobile de métropole ou d'outre-mer, par exemple 06 12 34 56 78, "
                "0692 12 34 56 ou +687 75 12 34."
            ),
        }
        widgets = {
            "mobile_phone": forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"})
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mobile_phone"].validators = []  # checked on the normalised value below
        # A placeholder address (User.email_reachable): nothing could be sent there, so the
        # box is shown off and disabled, with why; a post that ticks it anyway is refused.
        self.no_address = not self.instance.email_reachable
        if self.no_address:
            field = self.fields["notify_email"]
            field.widget.attrs["disabled"] = True
            field.help_text = _(
                "Indisponible : votre compte n'a pas encore d'adresse électronique vérifiée. "
                "Indiquez-la dans « Mon compte », puis ouvrez le lien de confirmation reçu."
            )

    def clean_mobile_phone(self):
        raw = (self.cleaned_data.get("mobile_phone") or "").strip()
        if not raw:
            return ""
        return phones.parse_mobile(raw)

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("notify_email") and self.no_address:
            self.add_error(
                "notify_email",
                ValidationError(
                    _(
                        "Les alertes par courriel ne peuvent pas être activées : votre compte "
                        "n'a pas encore d'adresse électronique vérifiée."
                    ),
                    code="no_address",
                ),
            )
        if (
            cleaned.get("notify_sms")
            and not cleaned.get("mobile_phone")
            and not self.has_error("mobile_phone")
        ):
            self.add_error(
                "mobile_phone",
                ValidationError(
                    _("Indiquez un numéro de mobile pour recevoir les alertes par SMS."),
                    code="required",
                ),
            )
        return cleaned


class AlertPreferenceForm(DsfrFormMixin, forms.ModelForm):
    """Per category and channel (under the account's e-mail/SMS switches), and the language."""

    CATEGORY_LABELS = {
        "requests": _("Mes demandes"),
        "demarches": _("Mes démarches"),
        "appointments": _("Mes rendez-vous et rappels"),
    }

    class Meta:
        model = AlertPreference
        fields = [
            "requests_email",
            "requests_sms",
            "demarches_email",
            "demarches_sms",
            "appointments_email",
            "appointments_sms",
            "language",
        ]
        widgets = {"language": forms.RadioSelect}
