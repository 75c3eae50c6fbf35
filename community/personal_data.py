"""What a forum post must not publish: personal data, and health questions about oneself.

``find_personal_data(text)`` returns the spans found, each with its kind; ``mask(text, findings)``
replaces them. Numbers are validated before being reported (social security number with its
key, tax number with its check digits, IBAN with mod-97), so that an ordinary long number is not
taken for one. Names of people come from a French named-entity model (spaCy's
``fr_core_news_sm``, a Python package, loaded once per process); without it installed, names are
not checked and a warning is logged once.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactcenter.phones import find_phones

logger = logging.getLogger(__name__)

KINDS = {
    "nir": gettext_lazy("un numéro de sécurité sociale"),
    "tax_number": gettext_lazy("un numéro fiscal"),
    "iban": gettext_lazy("un IBAN (coordonnées bancaires)"),
    "phone": gettext_lazy("un numéro de téléphone"),
    "email": gettext_lazy("une adresse électronique"),
    "address": gettext_lazy("une adresse postale"),
    "birthdate": gettext_lazy("une date de naissance"),
    "name": gettext_lazy("le nom d'une personne"),
}
MASKS = {
    "nir": gettext_lazy("[numéro de sécurité sociale masqué]"),
    "tax_number": gettext_lazy("[numéro fiscal masqué]"),
    "iban": gettext_lazy("[IBAN masqué]"),
    "phone": gettext_lazy("[téléphone masqué]"),
    "email": gettext_lazy("[adresse électronique masquée]"),
    "address": gettext_lazy("[adresse masquée]"),
    "birthdate": gettext_lazy("[date de naissance masquée]"),
    "name": gettext_lazy("[nom masqué]"),
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str

    @property
    def label(self) -> str:
        return str(KINDS[self.kind])


# --- numbers with a key -------------------------------------------------------------------

_NIR = re.compile(
    r"(?<![\dA-Za-z])([12378])[ .]?(\d{2})[ .]?(\d{2})[ .]?(\d{2}|2[AaBb])[ .]?(\d{3})[ .]?"
    r"(\d{3})[ .]?(\d{2})(?![\dA-Za-z])"
)


def nir_is_valid(number: str) -> bool:
    """A social security number (13 characters + 2-digit key): key = 97 - (number mod 97).

    Corsica's departments 2A and 2B count as 19 and 18 in the computation.
    """
    compact = re.sub(r"[ .]", "", number).upper()
    if len(compact) != 15:
        return False
    body, key = compact[:13], compact[13:]
    body = body.replace("2A", "19", 1) if body[5:7] == "2A" else body
    body = body.replace("2B", "18", 1) if body[5:7] == "2B" else body
    if not body.isdigit() or not key.isdigit():
        return False
    return 97 - int(body) % 97 == int(key)


_TAX = re.compile(r"(?<!\d)([0-3]\d(?:[ .]?\d){11})(?!\d)")


def tax_number_is_valid(number: str) -> bool:
    """A tax number (SPI, 13 digits starting 0 to 3): the last 3 are the first 10 mod 511."""
    digits = re.sub(r"[ .]", "", number)
    if len(digits) != 13 or not digits.isdigit() or digits[0] not in "0123":
        return False
    return int(digits[:10]) % 511 == int(digits[10:])


_IBAN = re.compile(r"\b([A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?)\b", re.I)


def iban_is_valid(value: str) -> bool:
    """ISO 13616: the country code and check digits moved to the end, letters as 10..35,
    the whole number mod 97 is 1."""
    compact = re.sub(r"\s", "", value).upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in rearranged)
    return int(digits) % 97 == 1


# --- text patterns ------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_STREET = (
    r"(?:rue|avenue|av\.|boulevard|bd|chemin|allée|allee|impasse|place|route|quai|cours|"
    r"square|résidence|residence|lotissement|lieu-dit|chaussée|passage|sentier|hameau)"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,4}}(?:\s?(?:bis|ter|b|t))?,?\s+{_STREET}\s+[^\n,.;:!?()]{{2,60}}?"
    r"(?=[\n,.;:!?()]|\s+\d{5}\b|$)",
    re.IGNORECASE,
)
# A postcode followed by a capitalised town ("75011 Paris"), not "12000 euros".
_POSTCODE = re.compile(
    r"\b(?:0[1-9]|[1-8]\d|9[0-8])\d{3}\s+[A-ZÉÈ][A-Za-zÀ-ÿ'\-]+(?:[ -][A-ZÉÈ][A-Za-zÀ-ÿ'\-]+)*"
)
_MONTHS = (
    r"janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|"
    r"décembre|decembre|january|february|march|april|may|june|july|august|september|october|"
    r"november|december"
)
_DATE = rf"(?:\d{{1,2}}[/.\-]\d{{1,2}}[/.\-]\d{{2,4}}|\d{{1,2}}(?:er)?\s+(?:{_MONTHS})\s+\d{{4}})"
_BIRTH = re.compile(
    rf"\b(?:née?s?|date\s+de\s+naissance|ddn|born(?:\s+on)?|date\s+of\s+birth)\b"
    rf"[^\n\d]{{0,20}}?({_DATE})",
    re.IGNORECASE,
)


def _spans(pattern: re.Pattern[str], text: str, kind: str, group: int = 0) -> list[Finding]:
    return [
        Finding(kind, m.start(group), m.end(group), m.group(group)) for m in pattern.finditer(text)
    ]


# --- names of people ------------------------------------------------------------------------


_ner_lock = threading.Lock()


@functools.cache
def _load_model(name: str) -> Any:
    try:
        import spacy

        return spacy.load(name, exclude=["parser", "lemmatizer"])
    except (ImportError, OSError):
        logger.warning("community: NER model %s not installed, names are not checked", name)
        return None


def _ner_model() -> Any:
    name = getattr(settings, "COMMUNITY_NER_MODEL", "fr_core_news_sm")
    if not name:
        return None
    with _ner_lock:  # one load per process, even when the preload and a request race
        return _load_model(name)


def preload() -> None:
    """Load the model in a background thread (server start): the first post does not wait."""
    threading.Thread(target=_ner_model, name="community-ner-preload", daemon=True).start()


def ner_available() -> bool:
    return _ner_model() is not None


# Words the small model takes for people at the start of a post: greetings and titles alone.
_PARTICLES = {"de", "du", "des", "la", "le", "d'", "van", "von", "da", "di", "ben", "el"}
_NOT_NAMES = {"bonjour", "bonsoir", "merci", "cordialement", "madame", "monsieur", "hello"}


def find_names(text: str) -> list[Finding]:
    nlp = _ner_model()
    if nlp is None or not text.strip():
        return []
    found = []
    for ent in nlp(text).ents:
        if ent.label_ != "PER":
            continue
        words = [w for w in re.findall(r"[\wÀ-ÿ'-]+", ent.text) if w.lower() not in _NOT_NAMES]
        # A person's name is capitalised (particles aside): "I just" or "mon voisin" is not.
        if not words or not all(w[:1].isupper() or w.lower() in _PARTICLES for w in words):
            continue
        # The small model takes a capitalised function word for a name ("Mes revenus...").
        if any(t.is_stop and t.lower_ not in _PARTICLES for t in ent):
            continue
        # A lone word must at least be tagged a proper noun (« Gérer mon prélèvement »).
        if len(ent) == 1 and ent[0].pos_ != "PROPN":
            continue
        found.append(Finding("name", ent.start_char, ent.end_char, ent.text))
    return found


# --- all together -------------------------------------------------------------------------


def find_personal_data(text: str, *, names: bool = True) -> list[Finding]:
    """Every piece of personal data found in ``text``, in text order, without overlaps.

    Validated numbers come first when two findings overlap (a social security number is not
    also reported as a phone number).
    """
    text = text or ""
    candidates: list[Finding] = []
    candidates += [f for f in _spans(_NIR, text, "nir") if nir_is_valid(f.text)]
    candidates += [f for f in _spans(_TAX, text, "tax_number", 1) if tax_number_is_valid(f.text)]
    candidates += [f for f in _spans(_IBAN, text, "iban", 1) if iban_is_valid(f.text)]
    candidates += _spans(_EMAIL, text, "email")
    candidates += [Finding("phone", s, e, text[s:e]) for s, e, _n in find_phones(text)]
    candidates += _spans(_BIRTH, text, "birthdate", 1)
    candidates += _spans(_ADDRESS, text, "address")
    candidates += _spans(_POSTCODE, text, "address")
    if names:
        candidates += find_names(text)
    kept: list[Finding] = []
    for finding in candidates:  # in priority order
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


def mask(text: str, findings: list[Finding]) -> str:
    for finding in sorted(findings, key=lambda f: f.start, reverse=True):
        text = text[: finding.start] + str(MASKS[finding.kind]) + text[finding.end :]
    return text


def describe(findings: list[Finding]) -> str:
    """The precise message shown to the author: what was found, quoted, kind by kind."""
    parts = []
    for finding in findings:
        parts.append(
            _("%(what)s (« %(text)s »)") % {"what": finding.label, "text": finding.text.strip()}
        )
    return "; ".join(parts)


def describe_kinds(findings: list[Finding]) -> str:
    """The kinds found, without the values (for the moderation audit)."""
    return ", ".join(dict.fromkeys(f.label for f in findings))


# --- health questions about oneself -----------------------------------------------------------

_HEALTH = re.compile(
    r"\b(?:je\s+suis\s+(?:atteinte?|malade|enceinte|diabétique|séropositi(?:f|ve)|"
    r"hospitalisée?|en\s+(?:dépression|rémission))"
    r"|j['’]ai\s+(?:un\s+|une\s+|le\s+|la\s+|des\s+)?(?:cancer|diabète|dépression|vih|sida|"
    r"tumeur|maladie|symptômes?|sclérose|leucémie|burn[- ]out)"
    r"|(?:mon|ma|mes)\s+(?:cancer|diagnostic|pathologie|maladie|symptômes|tumeur|chimiothérapie|"
    r"traitement\s+(?:contre|pour)|dépression|grossesse)"
    r"|(?:my|i\s+have)\s+(?:cancer|diagnosis|illness|disease|symptoms|depression))",
    re.IGNORECASE,
)


def is_personal_health_question(text: str) -> bool:
    return bool(_HEALTH.search(text or ""))
