"""Forms of the FranceConnect first login: what is missing, or the local account to link."""

from django import forms
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contactcenter import phones
from contactcenter.forms import DsfrFormMixin


class CompleteForm(DsfrFormMixin, forms.Form):
    """FranceConnect gave the identity: the mobile is asked, and the e-mail address when
    FranceConnect gave none (``ask_email``; it is then verified by a link)."""

    email = forms.EmailField(
        label=_("Adresse électronique"),
        help_text=_(
            "FranceConnect ne nous l'a pas transmise. Un lien vous sera envoyé pour la "
            "vérifier. Format attendu : nom@domaine.fr"
        ),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    mobile_phone = forms.CharField(
        label=_("Téléphone mobile (facultatif)"),
        help_text=_("Pour être prévenu par SMS d'une réponse. Exemple : 06 12 34 56 78"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def __init__(self, *args, ask_email: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not ask_email:
            del self.fields["email"]

    def clean_mobile_phone(self) -> str:
        value = self.cleaned_data["mobile_phone"].strip()
        return phones.parse_mobile(value) if value else ""


class PasswordForm(DsfrFormMixin, forms.Form):
    """A logged-in citizen proves the password of their account before linking FranceConnect
    (counted by django-axes like a login)."""

    password = forms.CharField(
        label=_("Mot de passe de votre compte Guichet"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request, *args, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        user = authenticate(
            self.request, username=self.request.user.get_username(), password=password
        )
        if user is None or user.pk != self.request.user.pk:
            raise ValidationError(
                _(
                    "Mot de passe incorrect. Après 5 essais, le compte est bloqué "
                    "pendant 15 minutes."
                ),
                code="invalid_login",
            )
        return password


class LinkForm(DsfrFormMixin, forms.Form):
    """Prove the local account is yours (its password) to link FranceConnect to it. The
    password goes through the authentication backends: django-axes counts the failures."""

    username = forms.EmailField(
        label=_("Adresse électronique de votre compte Guichet"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned
        self.user = authenticate(
            self.request, username=cleaned["username"], password=cleaned["password"]
        )
        if self.user is None:
            raise ValidationError(
                _(
                    "Adresse électronique ou mot de passe incorrect. Après 5 essais, "
                    "le compte est bloqué pendant 15 minutes."
                ),
                code="invalid_login",
            )
        return cleaned
