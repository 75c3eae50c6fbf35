"""Accounts: what the core User model does not hold."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PendingVerification(models.Model):
    """A local account created by sign-up whose e-mail address is not verified yet: the user is
    inactive while this row exists. Tells an unverified account from one an administrator
    deactivated (a sign-up with the address of the former resends the link)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_verification"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("compte en attente de vérification")
        verbose_name_plural = _("comptes en attente de vérification")

    def __str__(self) -> str:
        return self.user.email
