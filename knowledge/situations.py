"""Situations told indirectly: an event that happened to a thing ("j'ai oublié ma carte
Vitale dans le train", "on m'a piqué mon sac avec mon permis dedans").

People rarely name the procedure; they tell what happened (an *event*: lost, stolen,
damaged, expired, moved, born, died, separated, dismissed, sold, bought…) to an *object*
(carte Vitale, permis, passeport, carte d'identité, carte grise, mot de passe…). The words
around them (train, sac, marché, soirée) are endless, so lists of phrases do not carry over
to new stories; the pair (event, object) does.

Both vocabularies below are generic French (accent-free, after the editors' lexicon has
rewritten slang: "piqué" is already "volé"). Which article answers a pair is not written
here: it is read from the articles' own titles and keywords, so an article titled "Refaire
son permis de conduire perdu, volé ou abîmé" answers (perte, permis), (vol, permis) and
(dommage, permis) because its title says so. The layer only acts when the (event, object)
pairs told in the question lead to exactly one article ("mon portefeuille a été volé avec mon
permis et ma carte Vitale" leads to two: the ranking decides alone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from . import text as T

# Event -> accent-free words that tell it (inflections written out: no stemming, so that
# "passe" in "mot de passe" or "vol" in "volet" cannot be taken for an event).
EVENTS: dict[str, frozenset[str]] = {
    "perte": T.words(
        "perdu perdue perdus perdues perdre perds perte egare egaree egarer egares paume "
        "paumee disparu disparue introuvable oublie oubliee oublier laisse laissee tombe "
        "tombee tomber retrouve retrouver retrouvee"
    ),
    "vol": T.words(
        "vol vole volee voles volees voler voleur voleurs voleuse cambriole cambriolee "
        "cambriolage arrache arrachee derobe derobee pickpocket pickpockets plainte"
    ),
    # missed or forgotten (a deadline, a password): also "oublie", which tells a loss too
    "oubli": T.words("oublie oubliee oublier zappe zappee loupe loupee rate ratee manque"),
    "dommage": T.words(
        "abime abimee abimer casse cassee casser deteriore deterioree endommage endommagee "
        "dechire dechiree illisible raye rayee plie pliee tordu tordue fendu fendue brule "
        "brulee mouille mouillee trempe trempee delave delavee hs"
    ),
    "expiration": T.words(
        "expire expiree expirer expiration perime perimee renouveler renouvellement "
        "valable valide validite"
    ),
    "demenagement": T.words(
        "demenage demenagee demenages demenagement demenager emmenage emmenagement adresse"
    ),
    "naissance": T.words("naissance nee nes naitre accouche accouchement adoption adopte bebe"),
    "deces": T.words("deces decede decedee mort morte"),
    "union": T.words("mariage marie mariee maries pacs pacse pacses"),
    "separation": T.words("separe separee separes separation divorce divorcee rupture"),
    "licenciement": T.words("licencie licenciee licenciement vire viree"),
    "vente": T.words("vendu vendue vendre vente cede cedee donne donnee don"),
    "achat": T.words("achete achetee acheter achat occasion"),
}
# Events told in several words ("il n'était plus dans mon sac", "passé au sèche-linge").
EVENT_PHRASES: dict[str, tuple[str, ...]] = {
    "perte": ("n est plus", "n etait plus", "n y est plus", "n y etait plus", "plus la main"),
    "dommage": ("machine a laver", "lave linge", "seche linge", "passe a la machine"),
}

# Object -> accent-free words or expressions that name it (longest first when matching).
OBJECTS: dict[str, tuple[str, ...]] = {
    "carte vitale": ("carte vitale", "vitale", "carte de securite sociale", "carte verte"),
    "permis": ("permis de conduire", "permis"),
    "passeport": ("passeport", "passeports"),
    "carte d'identite": ("carte d identite", "carte nationale d identite", "cni"),
    "carte grise": ("carte grise", "certificat d immatriculation", "immatriculation"),
    "vehicule": ("voiture", "vehicule", "moto", "scooter", "camionnette", "auto"),
    "mot de passe": ("mot de passe", "mots de passe"),
    "actualisation": (
        "actualisation",
        "actualiser",
        "actualise",
        "declaration mensuelle",
        "declaration du mois",
    ),
    "rib": ("rib", "compte bancaire", "coordonnees bancaires", "iban"),
    # not "fiscal" alone: a "timbre fiscal" is bought for an identity card or a passport
    "impots": ("impots", "impot", "fisc", "foyer fiscal", "declaration de revenus"),
}


def _pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return re.compile(
        r"(?<![a-z0-9])(?:" + "|".join(re.escape(p) for p in ordered) + r")(?![a-z0-9])"
    )


_EVENTS_OF: dict[str, set[str]] = {}
for _event, _words in EVENTS.items():
    for _word in _words:
        _EVENTS_OF.setdefault(_word, set()).add(_event)
_EVENT_PHRASE_RES = {event: _pattern(phrases) for event, phrases in EVENT_PHRASES.items()}
_OBJECT_RES = {name: _pattern(phrases) for name, phrases in OBJECTS.items()}
_WORD_RE = re.compile(r"[a-z0-9]+")


# "on m'a vendu sa voiture", "il vient de me vendre sa moto": sold *to me* is a purchase.
_TO_ME_RE = re.compile(
    r"(?<![a-z0-9])(?:(?:m a|nous a|m ont|nous ont) (?:vendu|vendue|donne|donnee|cede)"
    r"|(?:me|nous) (?:vendre|vend|vendent|ceder|cede|cedent))(?![a-z0-9])"
)


# "je ne l'ai pas perdue", "ni perdue ni volée", "sans l'avoir abîmée": a mishap denied is
# not told. Only the mishaps (not "pas valide", which tells an expiry), and not the words
# whose denial tells the mishap or something else ("pas retrouvée", "pas tombée" for a
# payment): the negation, then only auxiliaries and pronouns, then the word.
_NOT_DENIABLE = T.words("retrouve retrouver retrouvee introuvable tombe tombee tomber plainte")
_DENIABLE = sorted(
    (EVENTS["perte"] | EVENTS["vol"] | EVENTS["dommage"]) - _NOT_DENIABLE,
    key=lambda w: (-len(w), w),
)
_NEGATED_RE = re.compile(
    r"(?<![a-z0-9])(?:pas|jamais|ni|sans)"
    r"(?:[\s']+(?:ete|eu|encore|du|tout|vraiment|l|la|le|les|lui|leur|avoir))*[\s']+"
    r"(" + "|".join(_DENIABLE) + r")(?![a-z0-9])"
)


def without_denied_mishaps(folded: str) -> str:
    """A lower-case, accent-free text without the mishaps it denies ("je ne l'ai pas perdue,
    elle est périmée" tells an expiry, not a loss)."""
    return _NEGATED_RE.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)], folded)


_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])\s+|\n+")


def sentences(text: str) -> list[str]:
    """The sentences of a message (ended by ".", "!", "?" or a new line)."""
    return [part for part in _SENTENCE_END_RE.split(text) if part.strip()]


# "valide" tells an expiry only when denied ("plus valide", "pas valable"): "ma carte est
# valide" says it has not expired.
_VALID = T.words("valable valables valide valides")
_NOT_VALID_RE = re.compile(
    r"(?<![a-z0-9])(?:pas|plus|jamais)\s+(?:tres\s+)?(?:valable|valide)s?(?![a-z0-9])"
)


def events_in(folded: str) -> set[str]:
    """Events told in an accent-free, lower-case text."""
    folded = _NOT_VALID_RE.sub(" expire ", _TO_ME_RE.sub(" achat ", folded))
    found = {
        event
        for word in _WORD_RE.findall(folded)
        if word not in _VALID
        for event in _EVENTS_OF.get(word, ())
    }
    return found | {event for event, pattern in _EVENT_PHRASE_RES.items() if pattern.search(folded)}


def objects_in(folded: str) -> set[str]:
    """Objects named in an accent-free, lower-case text."""
    return {name for name, pattern in _OBJECT_RES.items() if pattern.search(folded)}


@dataclass(frozen=True)
class Match:
    slug: str
    event: str
    thing: str


# Misfortunes that happen to a thing: a word the lists above do not know ("bousillé",
# "égarée", "fauché") counts as one when its word vector is this close to one of these.
MISHAP_SEEDS = {
    "perte": ("perdu", "égaré", "oublié", "disparu"),
    "vol": ("volé", "cambriolé", "dérobé"),
    "dommage": ("abîmé", "cassé", "déchiré", "endommagé"),
}
MISHAP_MIN_COSINE = 0.6


class SituationTable:
    """(event, object) -> article, read from the articles' titles and keywords."""

    def __init__(self, docs: Iterable[tuple[str, str, Iterable[str]]], vectors=None):
        """``docs``: (slug, title, keywords) of the public articles; ``vectors``: the word
        vectors (knowledge/vectors.py), for mishaps told with words the lists lack."""
        self.vectors = vectors
        self._seeds: list[tuple[str, object]] = []
        if vectors is not None:
            for event, seeds in MISHAP_SEEDS.items():
                for seed in seeds:
                    row = vectors.row(seed)
                    if row >= 0:
                        self._seeds.append((event, vectors.table[row]))
        table: dict[tuple[str, str], set[str]] = {}
        for slug, title, keywords in docs:
            folded = T.fold(" ".join([title, *keywords]))
            folded = " ".join(_WORD_RE.findall(folded))
            for thing in objects_in(folded):
                for event in events_in(folded):
                    table.setdefault((event, thing), set()).add(slug)
        self.table = table

    def match(self, *folded_sentences: str) -> Match | None:
        """The one article answering the situation told in the question, if any. An event and
        an object count together only in the same sentence ("le dentiste ne prend pas la carte
        Vitale. Ma feuille s'est perdue" tells no lost card)."""
        found = set()
        for folded in folded_sentences:
            events = events_in(folded) or self._mishaps(folded)
            found |= {
                (slug, event, thing)
                for thing in (objects_in(folded) if events else ())
                for event in events
                for slug in self.table.get((event, thing), ())
            }
        if len({slug for slug, _, _ in found}) != 1:
            return None
        return Match(*min(found))

    def _mishaps(self, folded_question: str) -> set[str]:
        if not self._seeds or not objects_in(folded_question):
            return set()
        found = set()
        for word in _WORD_RE.findall(folded_question):
            if len(word) < 5 or not T.is_content(word):
                continue
            row = self.vectors.row(word)
            if row < 0:
                continue
            vector = self.vectors.table[row]
            for event, seed in self._seeds:
                if float(vector @ seed) >= MISHAP_MIN_COSINE:
                    found.add(event)
        return found
