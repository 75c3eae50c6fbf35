"""Whether the sender of an e-mail is who its ``From`` says: the verdict of the organisation's
own receiving mail server, read in its ``Authentication-Results`` headers (RFC 8601).

Only the headers carrying ``settings.MAIL_AUTHSERV_ID`` (the authentication service id of that
server, e.g. ``mx.impots.gouv.fr``) are read: any other one may have been written by the sender
(RFC 8601 section 5; the receiving server deletes or renames the headers that claim its own id,
which is what OpenDKIM, OpenDMARC and Rspamd do). A sender is **verified** when that server says
``dmarc=pass``, or, with no DMARC result, ``dkim=pass`` or ``spf=pass`` for a domain aligned with
the ``From`` address's domain (the same domain or a parent of it). With ``MAIL_AUTHSERV_ID``
empty nothing can be read: every sender is unverified (docs/mail.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

_PROPERTY = re.compile(r"^([a-z0-9_-]+)\.([a-z0-9_.-]+)=(.*)$")
_VERSION = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Result:
    """One ``resinfo`` of a header: ``dkim=pass header.d=example.fr``."""

    method: str
    result: str
    properties: dict[str, str]


@dataclass(frozen=True)
class Verdict:
    verified: bool
    reason: str  # why, for the agents (empty when verified)


def _strip_comments(value: str) -> str:
    """The value without its comments (``(...)``, nested), quoted strings kept as they are."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            quoted = char != '"'
            out.append(char)
        elif char == '"' and depth == 0:
            quoted = True
            out.append(char)
        elif char == "(":
            depth += 1
            out.append(" ")
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _split(value: str, separator: str) -> list[str]:
    """``value`` split on ``separator`` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_header(value: str) -> tuple[str, list[Result]]:
    """The authserv-id of one ``Authentication-Results`` value and its results (lower case).

    A result that cannot be read is left out (it never counts as a pass)."""
    clauses = _split(" ".join(_strip_comments(str(value)).split()), ";")
    head = clauses[0].split()
    authserv_id = _unquote(head[0]).lower() if head else ""
    results: list[Result] = []
    if len(head) > 2 or (len(head) == 2 and not _VERSION.match(head[1])):
        return authserv_id, results  # not the RFC's "authserv-id [version]"
    for clause in clauses[1:]:
        # CFWS is allowed around "=" and "/": join them to their tokens first.
        tokens = re.sub(r"\s*([=/])\s*", r"\1", clause.strip()).lower().split()
        if not tokens or tokens[0] == "none":
            continue
        method, sep, result = tokens[0].partition("=")
        method = method.split("/", 1)[0]
        if not sep or not method or not result:
            continue
        properties: dict[str, str] = {}
        for token in tokens[1:]:
            match = _PROPERTY.match(token)
            if match and match.group(1) != "reason":
                properties[f"{match.group(1)}.{match.group(2)}"] = _unquote(match.group(3))
        results.append(Result(method, result, properties))
    return authserv_id, results


def _domain(value: str) -> str:
    """The domain of a property: ``user@example.fr``, ``@example.fr`` or ``example.fr``."""
    return value.rsplit("@", 1)[-1].strip().strip(".").lower()


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment without a public-suffix list: the same domain, or a parent of the
    ``From`` domain that is itself a registered name (at least two labels)."""
    if not domain or "." not in domain:
        return False
    return from_domain == domain or from_domain.endswith("." + domain)


def authserv_ids() -> set[str]:
    """The ids of the organisation's receiving servers (a comma-separated setting)."""
    return {
        part.strip().lower()
        for part in str(settings.MAIL_AUTHSERV_ID or "").split(",")
        if part.strip()
    }


def verdict(header_values: list[str], sender: str) -> Verdict:
    """The verdict on ``sender`` (the ``From`` address) from a message's
    ``Authentication-Results`` values, read only when they carry our authserv-id."""
    ours = authserv_ids()
    if not ours:
        return Verdict(
            False, _("le serveur de réception n'est pas configuré (MAIL_AUTHSERV_ID vide)")
        )
    results = [
        result
        for value in header_values
        for authserv_id, found in [parse_header(value)]
        if authserv_id in ours
        for result in found
    ]
    if not results:
        return Verdict(False, _("aucun résultat d'authentification de notre serveur de réception"))
    from_domain = _domain(sender)
    dmarc = [r.result for r in results if r.method == "dmarc"]
    if dmarc:
        if all(result == "pass" for result in dmarc):
            return Verdict(True, "")
        return Verdict(False, _("DMARC : %(result)s") % {"result": ", ".join(sorted(set(dmarc)))})
    for result in results:
        if result.result != "pass":
            continue
        if result.method == "dkim":
            domain = result.properties.get("header.d") or _domain(
                result.properties.get("header.i", "")
            )
        elif result.method == "spf":
            domain = _domain(result.properties.get("smtp.mailfrom", ""))
        else:
            continue
        if aligned(domain, from_domain):
            return Verdict(True, "")
    summary = ", ".join(sorted({f"{r.method}={r.result}" for r in results}))
    return Verdict(
        False,
        _("ni DMARC ni DKIM/SPF aligné sur le domaine de l'expéditeur (%(summary)s)")
        % {"summary": summary},
    )
