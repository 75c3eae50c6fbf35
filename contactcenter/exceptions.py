"""Domain errors: what a service function raises when it refuses, whoever called it.

Services never raise ``Http404`` or ``PermissionDenied``: those belong to HTTP. The edges
translate these errors, keeping the message:

- Django views: ``contactcenter.middleware.DomainErrorMiddleware`` (404 and 403 pages, 409);
- the API: ``contactcenter.api.exception_handler`` (the API's one error format);
- websocket consumers: their documented close codes (chat: 4404, 4403).

(Error *pages* are views, in ``contactcenter/errors.py``.)
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with a message to show as is (French, translated by gettext)."""

    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class NotFound(DomainError):
    """No such object, or not one this user may see (existence is not disclosed): 404."""

    status = 404


class NotAllowed(DomainError):
    """The object exists and is visible, but this user may not do that: 403."""

    status = 403


class InvalidState(DomainError):
    """The object's current state forbids the action (e.g. already closed): 409."""

    status = 409
