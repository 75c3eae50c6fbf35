"""Reactions to other parts of the project (connected in CobrowseConfig.ready)."""

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from .models import CobrowseSession
from .services import end_user_sessions


@receiver(user_logged_out, dispatch_uid="cobrowse-end-on-logout")
def end_sessions_on_logout(sender, request, user, **kwargs):
    """Logging out ends the person's co-browsing at once (citizen: logout; agent: ended)."""
    if user is None:
        return
    reason = (
        CobrowseSession.EndReason.LOGOUT if user.is_citizen else CobrowseSession.EndReason.AGENT
    )
    end_user_sessions(user, reason)
