"""Phone numbers, in one place: parse, validate, normalise to E.164, format for display.

Built on ``phonenumbers`` (libphonenumber's numbering plans). French numbers only: metropolitan
France and every overseas territory with a number plan (+33, +262 La Réunion and Mayotte,
+590 Guadeloupe, Saint-Barthélemy, Saint-Martin, +594 Guyane, +596 Martinique, +508
Saint-Pierre-et-Miquelon, +687 Nouvelle-Calédonie, +689 Polynésie française, +681
Wallis-et-Futuna). Stored numbers are E.164 ("+262692123456"); what people read is the
national format where France's ten-digit plan applies ("0692 12 34 56"), the international one
elsewhere ("+687 75.12.34").

Used by the user model (``mobile_phone``), the preferences and callback forms, the callback
service and the SMS notifications and transport.
"""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from phonenumbers import ValidationResult as Possible

# The ten-digit national plan ("0" + 9 digits) is shared by metropolitan France and the overseas
# departments: "06 12 34 56 78" is metropolitan, "0692 12 34 56" La Réunion, "0690 ..."
# Guadeloupe. National input is tried against these regions in this order.
NATIONAL_REGIONS = ("FR", "RE", "YT", "GP", "MQ", "GF", "BL", "MF")
# Collectivities with their own plan: an international prefix is required.
OVERSEAS_REGIONS = ("PM", "NC", "PF", "WF")
FRENCH_REGIONS = frozenset(NATIONAL_REGIONS + OVERSEAS_REGIONS)
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
MAX_LENGTH = 20  # of the stored E.164 value (and of the fields that hold one)

_SEPARATORS = re.compile(r"[\s.\-/()\u00a0\u202f]")
_ALLOWED = re.compile(r"^\+?\d+$")

MESSAGES = {
    "invalid_phone": _(
        "Saisissez un numéro de téléphone français valide, par exemple 01 23 45 67 89."
    ),
    "invalid_mobile": _(
        "Saisissez un numéro de mobile français valide, par exemple 06 12 34 56 78."
    ),
    "characters": _(
        "Un numéro de téléphone ne contient que des chiffres, séparés ou non par des espaces, "
        "des points ou des tirets, et le signe + devant l'indicatif."
    ),
    "too_short": _(
        "Ce numéro est trop court : un numéro français compte 10 chiffres, par exemple "
        "06 12 34 56 78 (ou l'indicatif et le numéro, par exemple +687 75 12 34)."
    ),
    "too_long": _(
        "Ce numéro est trop long : un numéro français compte 10 chiffres, par exemple "
        "06 12 34 56 78."
    ),
    "unassigned": _(
        "Ce numéro n'existe pas dans le plan de numérotation français : vérifiez les chiffres "
        "(par exemple 06 12 34 56 78, ou 0692 12 34 56 à La Réunion)."
    ),
    "prefix": _(
        "Commencez le numéro par 0 (par exemple 06 12 34 56 78) ou par l'indicatif "
        "(par exemple +33 6 12 34 56 78, +262 692 12 34 56)."
    ),
    "foreign": _(
        "Seuls les numéros français sont acceptés (métropole et outre-mer) : l'indicatif "
        "+%(prefix)s n'est pas français."
    ),
    "comoros": _(
        "L'indicatif +269 est celui des Comores : les numéros de Mayotte commencent par +262 "
        "(mobiles 06 39…, par exemple +262 639 01 23 45)."
    ),
    "not_mobile": _(
        "Ce numéro n'est pas un numéro de mobile : les SMS ne peuvent être envoyés qu'à un "
        "mobile (06, 07, 0692, 0690…)."
    ),
}


def _error(code: str, **params) -> ValidationError:
    return ValidationError(MESSAGES[code], code=code, params=params or None)


def _first_valid(digits: str, regions) -> phonenumbers.PhoneNumber | None:
    for region in regions:
        try:
            number = phonenumbers.parse(digits, region)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    return None


def _invalid(number: phonenumbers.PhoneNumber, mobile: bool) -> ValidationError:
    """Why a parsed number is not valid: too short, too long, or not assigned."""
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == Possible.TOO_SHORT:
        return _error("too_short")
    if reason == Possible.TOO_LONG:
        return _error("too_long")
    if reason in (Possible.IS_POSSIBLE, Possible.IS_POSSIBLE_LOCAL_ONLY):
        return _error("unassigned")
    return _error("invalid_mobile" if mobile else "invalid_phone")


def parse_phone(value: str, *, mobile: bool = False) -> str:
    """A French phone number as typed ("06 12 34 56 78", "0692-12-34-56", "+687 75 12 34",
    "0033 6...") -> its E.164 form ("+33612345678"). ``mobile``: refuse landlines and
    special numbers. Raises ValidationError with a precise French message."""
    compact = _SEPARATORS.sub("", value or "")
    if not compact:
        raise _error("invalid_mobile" if mobile else "invalid_phone")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _ALLOWED.match(compact):
        raise _error("characters")
    number: phonenumbers.PhoneNumber | None
    if compact.startswith("+"):
        try:
            number = phonenumbers.parse(compact, None)
        except NumberParseException as exc:
            if exc.error_type == NumberParseException.TOO_SHORT_NSN:
                raise _error("too_short")
            raise _error("invalid_mobile" if mobile else "invalid_phone")
        region = phonenumbers.region_code_for_country_code(number.country_code or 0)
        if number.country_code == 269:
            raise _error("comoros")
        if region not in FRENCH_REGIONS and number.country_code != 33:
            raise _error("foreign", prefix=number.country_code)
        if not phonenumbers.is_valid_number(number):
            # "+33 692 ..." (a national overseas number given the metropolitan prefix, as the
            # old validation stored them) is the overseas number.
            national = None
            if number.country_code == 33:
                national = _first_valid("0" + str(number.national_number), NATIONAL_REGIONS)
            if national is None:
                raise _invalid(number, mobile)
            number = national
    elif compact.startswith("0"):
        number = _first_valid(compact, NATIONAL_REGIONS)
        if number is None:
            try:
                as_metropolitan = phonenumbers.parse(compact, "FR")
            except NumberParseException:
                raise _error("invalid_mobile" if mobile else "invalid_phone")
            raise _invalid(as_metropolitan, mobile)
    else:
        raise _error("prefix")
    if phonenumbers.region_code_for_number(number) not in FRENCH_REGIONS:
        raise _error("invalid_mobile" if mobile else "invalid_phone")
    if mobile and phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise _error("not_mobile")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def parse_mobile(value: str) -> str:
    """``parse_phone(value, mobile=True)``: a French mobile (SMS alerts) in E.164."""
    return parse_phone(value, mobile=True)


def validate_phone(value: str) -> None:
    """Model/form validator: a valid French number (any format ``parse_phone`` accepts)."""
    parse_phone(value)


def validate_mobile(value: str) -> None:
    """Model/form validator: a valid French mobile number."""
    parse_phone(value, mobile=True)


def format_phone(value: str) -> str:
    """A stored number for display: "+33612345678" -> "06 12 34 56 78", "+262692123456" ->
    "0692 12 34 56" (France's national plan), "+687751234" -> "+687 75.12.34". A value that
    does not parse is shown as stored."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(parse_phone(value), None)
    except ValidationError:
        return value
    region = phonenumbers.region_code_for_number(number)
    style = (
        PhoneNumberFormat.NATIONAL
        if region in NATIONAL_REGIONS
        else PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def normalize_stored(value: str, *, mobile: bool = False) -> str:
    """For data already stored: its E.164 form, or the value unchanged when it does not parse
    (nothing is lost; the next edit asks for a valid number)."""
    if not value:
        return value
    try:
        return parse_phone(value, mobile=mobile)
    except ValidationError:
        return value


def find_phones(text: str) -> list[tuple[int, int, str]]:
    """Phone numbers written in a free text: ``(start, end, E.164)`` spans, in text order.

    For the checks of what people publish (the community forum's personal-data check): any
    valid number, French (national input tried against each region of the ten-digit plan) or
    international, whatever the separators.
    """
    found: dict[int, tuple[int, int, str]] = {}
    for region in NATIONAL_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
            if match.start not in found:
                e164 = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
                found[match.start] = (match.start, match.end, e164)
    return [found[start] for start in sorted(found)]
