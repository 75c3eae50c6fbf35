from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contactcenter.forms import DsfrFormMixin

from . import services
from .mail import mail_allowed


def password_help() -> str:
    return " ".join(str(text) for text in password_validators_help_texts() if text)


class SignUpForm(DsfrFormMixin, forms.Form):
    first_name = forms.CharField(
        label=_("Prénom"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Nom"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    email = forms.EmailField(
        label=_("Adresse électronique"),
        help_text=_("Format attendu : nom@domaine.fr. Un lien de vérification y sera envoyé."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Confirmation du mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].help_text = password_help()

    def clean(self):
        super().clean()
        data = self.cleaned_data
        password, confirmation = data.get("password1"), data.get("password2")
        if password and confirmation and password != confirmation:
            self.add_error("password2", _("Les deux mots de passe ne sont pas identiques."))
        elif password:
            try:
                services.validate_new_password(
                    password,
                    email=data.get("email", ""),
                    username=data.get("email", ""),
                    first_name=data.get("first_name", ""),
                    last_name=data.get("last_name", ""),
                )
            except ValidationError as error:
                self.add_error("password1", error)
        return data


class EmailForm(DsfrFormMixin, forms.Form):
    email = forms.EmailField(
        label=_("Adresse électronique"),
        help_text=_("Format attendu : nom@domaine.fr"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class PasswordConfirmedForm(DsfrFormMixin, forms.Form):
    """A form acting on the account asks for its password again."""

    current_password = forms.CharField(
        label=_("Mot de passe actuel"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_current_password(self):
        password = self.cleaned_data["current_password"]
        if not self.user.check_password(password):
            raise ValidationError(_("Mot de passe incorrect."))
        return password


class EmailChangeForm(PasswordConfirmedForm):
    email = forms.EmailField(
        label=_("Nouvelle adresse électronique"),
        help_text=_("Format attendu : nom@domaine.fr. Un lien de confirmation y sera envoyé."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args, user, provider: str = "", **kwargs):
        super().__init__(*args, user=user, **kwargs)
        # An account FranceConnect created without an address nor a password: its first
        # address needs no password (the link still proves the address). Once it has one,
        # a new FranceConnect login stands for the password (``provider``: views.email_change).
        if not user.has_usable_password() and (provider or services.has_placeholder_email(user)):
            del self.fields["current_password"]


class DeleteAccountForm(PasswordConfirmedForm):
    confirm = forms.BooleanField(
        label=_("Je comprends que cette suppression est définitive."), required=True
    )


class DisableTwoFactorForm(PasswordConfirmedForm):
    pass


class CodeForm(DsfrFormMixin, forms.Form):
    code = forms.CharField(
        label=_("Code de vérification"),
        max_length=32,
        help_text=_(
            "Les 6 chiffres affichés par votre application d'authentification, ou un code de "
            "secours."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )
    remember = forms.BooleanField(
        label=_("Se souvenir de ce navigateur pendant 12 heures"),
        help_text=_("À ne pas cocher sur un ordinateur partagé."),
        required=False,
    )


class EnrolForm(DsfrFormMixin, forms.Form):
    code = forms.CharField(
        label=_("Code affiché par l'application"),
        max_length=8,
        help_text=_("6 chiffres"),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class PasswordResetForm(DsfrFormMixin, auth_forms.PasswordResetForm):
    """Django's form, within the hourly limit of account mails to one address."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        if mail_allowed(to_email):
            super().send_mail(
                subject_template_name,
                email_template_name,
                context,
                from_email,
                to_email,
                html_email_template_name,
            )


class NewPasswordHelpMixin:
    """The password rules as one plain sentence under the field (Django's is a list in HTML)."""

    fields: dict[str, forms.Field]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = password_help()


class SetPasswordForm(NewPasswordHelpMixin, DsfrFormMixin, auth_forms.SetPasswordForm):
    pass


class PasswordChangeForm(NewPasswordHelpMixin, DsfrFormMixin, auth_forms.PasswordChangeForm):
    pass
