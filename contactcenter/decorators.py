"""View decorators and form helpers shared by every app's pages.

``citizen_required`` and friends send an anonymous visitor to the login page and refuse a
logged-in user of the wrong role (403, or 404 where a page should not even be known to exist).
``apply_errors`` puts a service's ``ValidationError`` on a bound form.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404


def role_required(check: Callable, denied: type[Exception] = PermissionDenied):
    """Login first, then ``check(request.user)``; a wrong role raises ``denied``."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not check(request.user):
                raise denied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


citizen_required = role_required(lambda user: user.is_citizen)
staff_required = role_required(lambda user: user.is_staff_member)
agent_required = role_required(lambda user: user.is_agent)
supervisor_required = role_required(lambda user: user.is_supervisor or user.is_admin_role)
# Console pages a citizen should not learn about: 404 rather than 403.
staff_only_404 = role_required(lambda user: user.is_staff_member, denied=Http404)


def apply_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form's fields (or as a non-field error)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
