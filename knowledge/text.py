"""French text analysis shared by the search index and the chatbot.

Pipeline: lower-case -> accents removed (so "impot" and "impôts" meet) -> elisions and hyphens
split ("l'adresse", "trop-perçu") -> tokens -> texting abbreviations expanded ("mdp", "svp") ->
stop words dropped -> Snowball French stem -> a few stem equivalences Snowball misses
("perte"/"perdu", "inscription"/"inscrire").

Everything here is deterministic and pure Python, so results are identical on SQLite and
PostgreSQL and in every process.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_TOKEN_RE = re.compile(r"[a-z0-9]+")
_stemmer = snowballstemmer.stemmer("french")


def words(text: str) -> frozenset[str]:
    """A set of words written as one multi-line string (keeps long lists readable)."""
    return frozenset(text.split())


# Function words, question scaffolding and conversational filler. They carry no topic.
STOPWORDS = words(
    """
    a ai aie aient aies ait as au aux avaient avais avait avant avec avez aviez avions avoir
    avons ayant ayez ayons c ca ce ceci cela celle celles celui cependant ces cet cette ceux
    chez ci d da dans de des deja depuis dois doit doivent donc dont du elle elles en encore es
    est et etaient etais etait etant ete etes etre eu eux faire fais fait faites faut fois hors
    i ici il ils j je jusqu l la le les leur leurs lors lui m ma mais me meme memes mes moi mon
    n ne ni nos notre nous on ont ou par parce pas peu peut peuvent peux plus pour pourquoi
    pouvez pouvons puis puisque qu quand que quel quelle quelles quels qui quoi s sa sans se ses
    si sien soi soit sommes son sont sous suis sur t ta te tes toi ton toujours tous tout toute
    toutes tres tu un une unes uns vos votre vous y comment combien ou bonjour bonsoir salut
    merci madame monsieur svp stp plait voudrais voudrait voulais veux veut voulez vouloir
    souhaite souhaiterais aimerais besoin savoir sais sait dire dit aller vais va vont alors
    voila bah ben bref euh hein oui non ok okay bien bon aussi autre autres quelque quelques
    chose choses truc trucs cest jai jsuis chui suis ya yen quoi ke ki koi pk pq pcq psk cmt
    cmnt comt cmmt bcp tjr tjrs pr ds mm qd qq qqch qqn dc vs jsp svp stp bjr bsr slt cc mr mme
    svp possible normal etc ici la dessus faite comprend comprends comprendre compris vraiment
    franchement enfin genre svp probleme problemes souci soucis question questions aujourd hui
    hier demain maintenant bientot actuellement svp merci urgent stp desole desolee excusez
    excuse pardon coup temps apres pendant durant lorsque suite pa g fer veu vx kan kom kel kelle
    pkoi pourkoi tt ts ns tjs ptet jpeux jveux chuis cé ce c se ke ki sav
    the my i im how do does did what where when why which who is are was were am be been can
    could should would will have has had you your we our they their it its this that to of for
    with from about please need want get got yet any and or not don doesn didn haven ve ll in
    at by into there here just still so if hi hello thanks
    """
)

# Everyday words that tell the circumstances, not the procedure: days, months, numbers written
# as words (speech recognition writes "quinze jours"), times, personal belongings, people. They
# are dropped like stop words, so that a story told around the question ("hier soir dans le
# métro, mon sac avec...") neither dilutes the match nor looks like an unknown topic.
NEUTRAL_WORDS = words(
    """
    lundi mardi mercredi jeudi vendredi samedi dimanche janvier fevrier mars avril mai juin
    juillet aout septembre octobre novembre decembre matin soir soiree nuit midi minuit semaine
    semaines jour jours journee mois an ans annee annees heure heures minute minutes dernier
    derniere prochain prochaine passe passee deux trois quatre cinq six sept huit neuf dix onze
    douze treize quatorze quinze seize vingt trente quarante cinquante soixante cent cents mille
    premier premiere deuxieme troisieme fois sac sacoche poche portefeuille dedans dessus
    dessous carton cartons affaires valise maman papa mere pere frere soeur copain copine ami
    amie amis voisin voisine gens personne tete coup vite rapidement tard tot longtemps toujours
    jamais souvent moment instant peur grave pense crois trouve quitte viens vient venons week
    end weekend
    """
)

# Place names say nothing about the topic, except that the person goes abroad.
COUNTRIES = words(
    """
    allemagne angleterre autriche belgique bresil bulgarie canada chine croatie danemark espagne
    estonie etats unis usa finlande grece hongrie inde irlande islande italie japon lettonie
    lituanie luxembourg malte maroc mexique norvege pays bas pologne portugal quebec roumanie
    royaume uni russie senegal slovaquie slovenie suede suisse tchequie thailande tunisie
    turquie vietnam algerie australie londres new york europe
    """
)
CITIES = words(
    """
    paris lyon marseille toulouse nice nantes strasbourg montpellier bordeaux lille rennes reims
    toulon grenoble dijon angers nimes brest limoges tours amiens metz perpignan besancon
    orleans rouen mulhouse caen nancy
    """
)

# Keys of ABBREVIATIONS that are also common English words: in a message written in English
# they are English ("what are the steps?" is not about the ARE, the unemployment allowance).
ENGLISH_HOMOGRAPHS = frozenset({"are"})
_ENGLISH_HOMOGRAPHS_RE = re.compile(
    r"\b(?:" + "|".join(sorted(ENGLISH_HOMOGRAPHS)) + r")\b", re.IGNORECASE
)


def without_english_homographs(text: str) -> str:
    """An English message without the words ABBREVIATIONS would read as French ones."""
    return _ENGLISH_HOMOGRAPHS_RE.sub(" ", text)


# Texting and colloquial spellings -> standard words (applied before stop words and stems).
ABBREVIATIONS = {
    "mdp": "mot de passe",
    "pwd": "mot de passe",
    "password": "mot de passe",
    "login": "identifiant",
    "rdv": "rendez vous",
    "cni": "carte identite",
    "secu": "securite|social",
    "cpam": "assurance|maladie",
    "ij": "indemnites journalieres",
    "ijss": "indemnites journalieres",
    "rib": "rib|bancaire",
    "iban": "iban|bancaire",
    "dse": "dossier social etudiant",
    "resto": "restaurant",
    "restau": "restaurant",
    "ru": "restaurant universitaire",
    "fac": "universite",
    "univ": "universite",
    "taf": "travail",
    "boulot": "travail",
    "job": "travail",
    "chomdu": "chomage",
    "chomedu": "chomage",
    "alloc": "allocation",
    "allocs": "allocations",
    "are": "allocation|chomage",
    "pe": "agence emploi",
    "pole": "agence",
    "francetravail": "agence emploi",
    "fisc": "impots",
    "imposition": "impot",
    "fiscal": "impots",
    "fiscale": "impots",
    "sms": "message",
    "mel": "mail",
    "email": "mail",
    "e": "",
    "courriel": "mail",
    "appart": "appartement|logement",
    "apart": "appartement|logement",
    "coloc": "colocation|logement",
    "proprio": "proprietaire",
    "bagnole": "voiture",
    "ptit": "petit",
    "thune": "argent",
    "thunes": "argent",
    "fric": "argent",
    "tel": "telephone",
    "portable": "telephone",
    "appli": "application",
    "applie": "application",
    "apli": "application",
    "aplli": "application",
    "app": "application",
    "paye": "paie",
    "cdd": "contrat",
    "cdi": "cdi|contrat",
    "interim": "interim|contrat",
    "licencie": "licenciement|emploi",
    "licenciee": "licenciement|emploi",
    "radie": "radie|radiation",
    "radiee": "radie|radiation",
    "medicament": "pharmacie",
    "medicaments": "pharmacie",
    "medocs": "pharmacie",
}

# Texting spellings of everyday words, rewritten before the expressions below are matched
# ("ma bourse é tjr pa tombé" -> "ma bourse e toujours pas tombe" -> "recu retard").
SMS_WORDS = {
    "tjr": "toujours",
    "tjrs": "toujours",
    "tjs": "toujours",
    "toujour": "toujours",
    "pa": "pas",
    "cmt": "comment",
    "cmnt": "comment",
    "koman": "comment",
    "komen": "comment",
    "comen": "comment",
    "d1": "d un",
    "1e": "une",
    "qd": "quand",
    "kan": "quand",
    "pk": "pourquoi",
    "pq": "pourquoi",
    "pkoi": "pourquoi",
    "pr": "pour",
    "ds": "dans",
    "ki": "qui",
    "ke": "que",
    "koi": "quoi",
    "kel": "quel",
    "kelle": "quelle",
    "bcp": "beaucoup",
    "dmd": "demande",
    "dde": "demande",
    "jai": "j ai",
    "chui": "je suis",
    "chuis": "je suis",
    "fe": "fait",
    "fo": "faut",
    "ya": "il y a",
    "mm": "meme",
    "ns": "nous",
    "vs": "vous",
    # General French texting (not fitted to any question set): pronoun + verb glued together,
    # dropped letters, sounds written with fewer letters.
    "jsui": "je suis",
    "jsuis": "je suis",
    "jss": "je suis",
    "jme": "je me",
    "jte": "je te",
    "jle": "je le",
    "jla": "je la",
    "jvais": "je vais",
    "jvai": "je vais",
    "jve": "je vais",
    "jpe": "je peux",
    "jpeu": "je peux",
    "jpeux": "je peux",
    "jpx": "je peux",
    "jveu": "je veux",
    "jveux": "je veux",
    "jvx": "je veux",
    "jsp": "je ne sais pas",
    "jsai": "je sais",
    "chai": "je sais",
    "chais": "je sais",
    "jvien": "je viens",
    "jviens": "je viens",
    "jdoi": "je dois",
    "jdois": "je dois",
    "jfai": "je fais",
    "jfais": "je fais",
    "jcomprend": "je comprends",
    "jcrois": "je crois",
    "jvois": "je vois",
    "jvoi": "je vois",
    "jsais": "je sais",
    "jcomprends": "je comprends",
    "jtrouve": "je trouve",
    "quon": "qu on",
    "jarrive": "j arrive",
    "jarriv": "j arrive",
    "g": "j ai",
    "gt": "j etais",
    "pe": "peux",
    "doi": "dois",
    "veu": "veux",
    "vx": "veux",
    "ve": "vais",
    "vai": "vais",
    "fai": "fais",
    "refe": "refaire",
    "refai": "refaire",
    "refer": "refaire",
    "fer": "faire",
    "plu": "plus",
    "pluss": "plus",
    "otre": "autre",
    "otr": "autre",
    "ot": "autre",
    "o": "au",
    "oci": "aussi",
    "ossi": "aussi",
    "osi": "aussi",
    "avc": "avec",
    "avk": "avec",
    "ac": "avec",
    "nvl": "nouvelle",
    "nvle": "nouvelle",
    "nvll": "nouvelle",
    "nvlle": "nouvelle",
    "nvelle": "nouvelle",
    "nvo": "nouveau",
    "nouvo": "nouveau",
    "nv": "nouveau",
    "nvx": "nouveaux",
    "pro": "prochain",
    "proch": "prochain",
    "dc": "donc",
    "tt": "tout",
    "tte": "toute",
    "ttes": "toutes",
    "tts": "tous",
    "mtn": "maintenant",
    "mnt": "maintenant",
    "auj": "aujourd hui",
    "ajd": "aujourd hui",
    "ojd": "aujourd hui",
    "aujd": "aujourd hui",
    "dmn": "demain",
    "pdt": "pendant",
    "pcq": "parce que",
    "pck": "parce que",
    "psk": "parce que",
    "paske": "parce que",
    "pask": "parce que",
    "qqn": "quelqu un",
    "qqun": "quelqu un",
    "qqch": "quelque chose",
    "qq": "quelques",
    "kwa": "quoi",
    "kom": "comme",
    "kome": "comme",
    "komment": "comment",
    "coment": "comment",
    "k": "que",
    "dja": "deja",
    "enkor": "encore",
    "encor": "encore",
    "tro": "trop",
    "bocou": "beaucoup",
    "boku": "beaucoup",
    "bcoup": "beaucoup",
    "vrmt": "vraiment",
    "msg": "message",
    "mess": "message",
    "num": "numero",
    "pb": "probleme",
    "pbm": "probleme",
    "pblm": "probleme",
    "prob": "probleme",
    "rep": "reponse",
    "infos": "informations",
    "info": "information",
    "dossie": "dossier",
    "mwa": "moi",
    "moa": "moi",
    "twa": "toi",
    "oqp": "occupe",
    "aprem": "apres midi",
    "slmt": "seulement",
    "ptet": "peut etre",
    "ptetre": "peut etre",
    "jamai": "jamais",
    "jusqua": "jusqu a",
    "lappli": "l appli",
    "lapplie": "l appli",
    "lapli": "l appli",
}
_SMS_RE = re.compile(r"\b(?:" + "|".join(sorted(SMS_WORDS, key=len, reverse=True)) + r")\b")
_HOURS_RE = re.compile(r"\b\d+ ?h(?:\d+|eures?|rs?)?\b")


def expand_sms(folded: str) -> str:
    """Folded words -> the same words with texting spellings written out ("jsui" -> "je suis",
    "20h" -> "heures"). Used before the editors' lexicon too, so its entries match either way.
    """
    folded = _HOURS_RE.sub(" heures ", folded)
    return _SMS_RE.sub(lambda m: SMS_WORDS[m.group(0)], folded)


# Stems Snowball leaves apart although people use them interchangeably.
STEM_EQUIVALENTS = {
    "pert": "perdu",
    "perd": "perdu",
    "paum": "perdu",
    "egar": "perdu",
    "inscript": "inscrir",
    "inscrit": "inscrir",
    "pay": "pai",
    "pai": "pai",
    "urgenc": "urgent",
    "blocag": "bloqu",
    "verrouill": "bloqu",
    "chomeur": "chomag",
    "boursi": "bours",
    "vole": "vol",
    "connexion": "connect",
    "reinscript": "reinscrir",
    "reinscrit": "reinscrir",
    "renouvel": "renouvel",
    "renouvellement": "renouvel",
    "declarat": "declar",
    "remboursent": "rembours",
    "rembourse": "rembours",
    "remboursee": "rembours",
    "versee": "vers",
    "verse": "vers",
    "vers": "vers",
    "versement": "vers",
    "demenagent": "demenag",
    "demenageur": "demenag",
    "actualisat": "actualis",
    "mari": "mariag",
    "mariag": "mariag",
    "pacs": "pacs",
    "pacsent": "pacs",
    "pacse": "pacs",
    "divorc": "divorc",
    "nee": "naissanc",
    "naissanc": "naissanc",
    "voitur": "vehicul",
    "moto": "vehicul",
    "auto": "vehicul",
    "scoot": "vehicul",
    "scooter": "vehicul",
    "telecharg": "telecharg",
    "imprim": "telecharg",
    "abim": "abim",
    "cass": "abim",
    "endommag": "abim",
    "etudi": "etudi",
    "etud": "etudi",
    "medecin": "medecin",
    "docteur": "medecin",
    "toubib": "medecin",
    "generalist": "medecin",
    "pharmac": "pharmac",
    "pharmacien": "pharmac",
    "pac": "pacs",
    "travaill": "travail",
    "mar": "mariag",
    "recus": "recu",
    # Irregular verbs: the forms of one verb share no stem ("reçoit", "reçu", "recevoir").
    **dict.fromkeys(
        (
            "recoit",
            "recois",
            "recoiv",
            "recoivent",
            "recev",
            "recevoir",
            "recevr",
            "recevront",
            "recut",
        ),
        "recu",
    ),
    **dict.fromkeys(("percoit", "percois", "percev", "percevoir", "percevr", "percus"), "percu"),
    **dict.fromkeys(("obtien", "obtient", "obtiennent", "obten", "obtiendr", "obtenus"), "obtenu"),
    **dict.fromkeys(("envoy", "envoient", "enverr"), "envoi"),
    **dict.fromkeys(("vendr", "vend", "vendent", "vendit", "vent"), "vendu"),
    # not "suis" nor "suit" ("je suis", "ce qui suit")
    **dict.fromkeys(("suivr", "suivon", "suivent", "suiv"), "suiv"),
    "identifi": "identifi",
}

# Colloquial multi-word expressions -> the words the knowledge base uses (accent-free text).
PHRASES = [
    (r"\bcomment (?:ca|cela|c|ce) (?:marche|fonctionne|se passe)\b", " "),
    (r"\bou (?:ca |il |elle |ils |elles |j )?en (?:est|sont|etes|suis)\b", " suivi "),
    (r"\ben (?:est|e) ou\b", " suivi "),
    (r"\bfrance ?connect\b", " franceconnect "),
    (r"\b(?:pole|france) (?:emploi|travail)\b", " agence emploi "),
    (r"\bresto?u? u\b|\brestau u\b", " restaurant universitaire "),
    (r"\bcite u\b|\bcite universitaire\b", " residence universitaire "),
    (r"\b(?:me )?(?:souviens|souvient|rappelle|rappel) (?:plus|pas)\b", " oublie "),
    (r"\bassure social\b", " assurance maladie "),
    (r"\bcarte bleue\b|\bcb\b", " carte bancaire "),
    (r"\bplus (?:d ?|de )(?:argent|sous|thunes?|fric)\b", " argent difficulte financiere "),
    (r"\bfauche\b|\bfauchee\b", " argent difficulte financiere "),
    (r"\bmot de pass?e?\b", " mot passe "),
    (
        r"\bchang\w* (?:de |d )?(?:logement|domicile|appartement|appart|maison|ville)\b",
        " demenagement ",
    ),
    (r"\bmauvaise? (?:case|montant|chiffre|somme|information|info)\b", " erreur "),
    (r"\bfeuilles? (?:d |de )?(?:impo\w*|fisc\w*)\b", " avis impot "),
    (r"\battestation (?:de |d )?(?:ma |la )?(?:carte )?vitale\b", " attestation droits "),
    (
        r"\b(?:un |une |mon |ma )?(?:autre|nouveau|nouvelle) (?:compte|banque)\b",
        " changer compte bancaire ",
    ),
    (r"\bprete? (?:a |pour )?(?:etre )?(?:retir\w*|recuper\w*)\b", " suivi "),
    (r"\bcombien de temps\b", " delai "),
    (r"\bcombien\b", " montant "),
    (
        r"\b(?:pas|rien|jamais) (?:encore |toujours |bien )?(?:ete )?"
        r"(?:recu|recue|recus|arrive|arrivee|arrives|verse|versee|touche|vu|paye|payee|tombe|"
        r"tombee|vire|viree)\b",
        " recu retard ",
    ),
    (r"\bpas (?:encore |pu )?(?:fait|faite|faire)\b", " oubli "),
    (
        r"\b(?:pas|aucune?|jamais) (?:eu )?(?:de |d )?(?:reponse|retour|nouvelles?)\b",
        " relance suivi ",
    ),
    (
        r"\bmanger (?:au|a la|a|dans un|dans une) "
        r"(?:crous|fac|resto|restaurant|cantine|cafet\w*)\b",
        " restaurant universitaire repas ",
    ),
    (r"\b(?:plus|pas|rien) (?:de quoi |a |pour )?manger\b", " difficulte financiere urgence "),
    (
        r"\b(?:re)?(?:trouve|repris|reprends|reprendre|reprise|commence|signe) "
        r"(?:un |une |du |mon |a )?(?:nouveau |nouvel |nouvelle |petit |enfin )?"
        r"(?:travail|emploi|boulot|job|taf|poste|cdi|cdd|contrat)\b",
        " reprise emploi ",
    ),
    (r"\bindemnites? (?:de |du )?chomage\b", " allocations chomage "),
    (r"\binscri\w* (?:sur|a) (?:le|votre|ce) site\b", " creer compte "),
    (r"\bpas (?:encore )?(?:de|d) (?:compte|espace)\b", " creer compte "),
]
_PHRASE_RES = [(re.compile(pattern), replacement) for pattern, replacement in PHRASES]


def strip_accents(text: str) -> str:
    if text.isascii():
        return text
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_REPEATS_RE = re.compile(r"([a-z])\1{2,}")


def fold(text: str) -> str:
    """Lower-case, accent-free text; a letter typed three times or more counts once."""
    return _REPEATS_RE.sub(r"\1", strip_accents(text.lower()))


def raw_tokens(text: str) -> list[str]:
    """Accent-free lower-case word tokens, abbreviations expanded (stop words kept)."""
    return list(_raw_tokens(text))


@lru_cache(maxsize=32768)
def _raw_tokens(text: str) -> tuple[str, ...]:
    # Cached: index rebuilds (leave-one-out evaluation, content edits) re-read the same texts.
    tokens: list[str] = []
    folded = " ".join(_TOKEN_RE.findall(fold(text)))
    folded = expand_sms(folded)
    for pattern, replacement in _PHRASE_RES:
        folded = pattern.sub(replacement, folded)
    for token in folded.split():
        # An expansion "a|b" stays one word with alternatives (see SearchIndex.analyze).
        if token in COUNTRIES:
            tokens.append("etranger|voyage")
            continue
        if token in CITIES:
            continue
        expansion = ABBREVIATIONS.get(token)
        if expansion is None:
            tokens.append(token)
        elif expansion:
            tokens.extend(expansion.split())
    return tuple(tokens)


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    stemmed = _stemmer.stemWord(token)
    return STEM_EQUIVALENTS.get(stemmed, stemmed)


def stem_variants(token: str) -> list[str]:
    """Stems to try for a word typed without accents ("pacses", "marie", "versees")."""
    variants = [stem(token)]
    for suffix in ("es", "s", "e", "x"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            candidate = stem(token[: -len(suffix)])
            if candidate not in variants:
                variants.append(candidate)
    return variants


def is_content(token: str) -> bool:
    return (
        token not in STOPWORDS
        and token not in NEUTRAL_WORDS
        and (len(token) > 1 or token.isdigit())
    )


def analyze(text: str) -> list[str]:
    """Text -> list of content stems, in order (duplicates kept)."""
    return [stem(t) for t in raw_tokens(text) if is_content(t)]


def content_tokens(text: str) -> list[str]:
    """Text -> accent-free content words (not stemmed), in order."""
    return list(_content_tokens(text))


@lru_cache(maxsize=32768)
def _content_tokens(text: str) -> tuple[str, ...]:
    # Cached: index rebuilds (leave-one-out evaluation, content edits) re-read the same texts.
    return tuple(t for t in raw_tokens(text) if is_content(t))


def damerau_levenshtein(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance, returning limit + 1 as soon as it is exceeded."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        row_min = i
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            row_min = min(row_min, value)
        if row_min > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


@lru_cache(maxsize=65536)
def deletes(word: str) -> frozenset[str]:
    """Every string obtained by deleting one character (SymSpell neighbourhood)."""
    return frozenset(word[:i] + word[i + 1 :] for i in range(len(word)))


# Groups of words people use for the same thing in administrative questions. At query time a
# word also matches the other members of its group, with a lower weight (see search.py).
SYNONYM_GROUPS = [
    "prouver preuve justifier justificatif attestation certificat document papier",
    "internet ligne site web ordinateur numerique",
    "salaire revenu revenus paie remuneration",
    "logement appartement maison domicile habitation",
    "demenager demenagement emmenager",
    "argent somme montant euros",
    "perdu perdre perte egarer paumer",
    "voler vol vole cambriolage",
    "marche fonctionne fonctionner casse abime endommage",
    "travail emploi boulot job poste",
    "chomage allocation allocations indemnisation",
    "toucher percevoir recevoir recu verser versement virement tomber tombe tombee",
    "rembourser remboursement",
    "medecin docteur generaliste",
    "soins soin consultation kine kinesitherapeute dentiste ordonnance infirmier infirmiere",
    "enfant fils fille bebe gamin",
    "conjoint mari epoux epouse femme compagnon compagne partenaire",
    "mariage marier",
    "deces mort decede deceder veuf veuve",
    "code identifiant",
    "mail courriel message",
    "bloque bloquer verrouille suspendu",
    "etudiant etudes universite ecole",
    "residence cite chambre studio",
    "garant caution garantie",
    "cantine restaurant repas manger",
    "urgence galere difficulte precarite detresse",
    "inscrire inscription enregistrer",
    "licencier licenciement",
    "indu dette",
    "renouveler refaire remplacer",
    "vendre vente ceder cession",
    "acheter achat acquerir",
    "vacances voyage etranger sejour",
    "suivre suivi avancement etat consulter voir",
    "contester contestation reclamation",
    "telephone appeler",
    "erreur tromper trompe",
    "oublier oubli oublie",
    "retenue retenir retient retenu",
    "mensuel mensuelle mensualite",
]


def _synonym_map() -> dict[str, frozenset[str]]:
    mapping: dict[str, set[str]] = {}
    for group in SYNONYM_GROUPS:
        stems = {stem(word) for word in group.split()}
        for s in stems:
            mapping.setdefault(s, set()).update(stems - {s})
    return {s: frozenset(others) for s, others in mapping.items()}


SYNONYMS = _synonym_map()


# --- French phonetic key (for typos made by ear: "bloker"/"bloque", "bource"/"bourse") --------
_PHONETIC_RULES = [
    (re.compile(pattern), replacement)
    for pattern, replacement in [
        (r"y", "i"),
        (r"w", "v"),
        (r"eaux?", "o"),
        (r"au", "o"),
        (r"ph", "f"),
        (r"qu", "k"),
        (r"q", "k"),
        (r"[cs]h", "x"),
        (r"gu(?=[eiy])", "g"),
        (r"g(?=[ei])", "j"),
        (r"ck", "k"),
        (r"c(?=[ei])", "s"),
        (r"c", "k"),
        (r"(?<=[aeiou])tion", "sion"),
        (r"mpt", "nt"),
        (r"h", ""),
        (r"([a-z])\1", r"\1"),
        (r"(?:ai|ei)", "e"),
        (r"(?:er|ez|et|es)$", "e"),
        (r"oi", "wa"),
        (r"ou", "u"),
        (r"(?:[ae]n|[ae]m)(?![aeiouAOI])", "A"),
        (r"(?:on|om)(?![aeiouAOI])", "O"),
        (r"(?:in|im|un)(?![aeiouAOI])", "I"),
    ]
]
_FINAL_SILENT = re.compile(r"(?:e|[stdxp])$")


@lru_cache(maxsize=65536)
def phonetic(word: str) -> str:
    """A rough French phonetic key of an accent-free word: spellings that sound alike share it."""
    key = word
    for pattern, replacement in _PHONETIC_RULES:
        key = pattern.sub(replacement, key)
    for _ in range(2):  # silent endings: "-ent", "-es", "-ts"
        key = _FINAL_SILENT.sub("", key)
    return key


# Phonetic keys of the longer small words, so that "coment" or "pourkoi" are dropped too.
STOPWORD_SOUNDS = frozenset(phonetic(w) for w in STOPWORDS if len(w) >= 4 and len(phonetic(w)) >= 3)
