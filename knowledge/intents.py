"""What a chatbot message says besides its subject: a greeting, thanks, a request for a human,
distress or anger (the engine's small talk and hand-off signals, knowledge/engine.py).

Word lists and patterns match the message's accent-free tokens (``text.raw_tokens``)."""

from __future__ import annotations

import re

from . import text as T
from .text import words

GREETING_WORDS = words(
    """
    bonjour bonsoir salut coucou hello hey hi yo bjr bsr slt cc re rebonjour kikou wesh allo
    allô
    """
)
THANKS_WORDS = words(
    """
    merci mrc mci thanks thx remercie remercier remerciements revoir aurevoir bye ciao adieu
    daccord parfait super nickel top genial ok okay
    """
)
POLITE_FILLER = words(
    """
    a aide ai au aurevoir avez beaucoup bien bon bonne c ca cest cool d de des du est et
    excellent genial il je journee la le les ma madame mes mon monsieur nickel ok okay parfait
    pour quelqu quelquun qqn qui reponse reponses sa soiree super svp stp t ta tes top tout tres
    tu un une vos votre vous y ya voila compris daccord accord clair formidable infos info
    renseignement renseignements aurevoir revoir bye ciao plus tard semaine week end
    """
)
_HUMAN_TARGET = (
    r"(?:conseill\w*|agent|agents|humain|humains|personne|quelqu\s?un|qqn|operat\w*|"
    r"interlocut\w*|vrai\w*\s+(?:personne|gens|humain)|standard|responsable)"
)
HUMAN_RE = re.compile(
    # "parler à un conseiller", "joindre quelqu'un", "mettez-moi en relation avec un agent"
    r"\b(?:parler|discuter|echanger|joindre|contacter|appeler|rappeler|relation|passez|passer|"
    r"avoir|rendez vous|rdv)\b(?:\s+\w+){0,4}?\s+"
    r"(?:un|une|a|avec|d|des|le|la|au|moi|vos|votre)?\s*"
    r"(?:" + _HUMAN_TARGET + r"|service|services)\b"
    # "je veux un conseiller", "besoin d'un humain"
    r"|\b(?:veux|voudrais|souhaite|souhaiterais|besoin|faut|exige)\s+(?:d\s+)?"
    r"(?:un|une|le|la|parler a un|parler a une)\s+" + _HUMAN_TARGET + r"\b"
)
HUMAN_SHORT_RE = re.compile(
    r"^(?:un |une |le |la )?(?:conseiller|conseillere|agent|humain|operateur|"
    r"vrai humain|une vraie personne|personne reelle)\s*(?:svp|stp|please)?$"
)
NOT_A_ROBOT_RE = re.compile(r"\bpas (?:un|a un|avec un|a une|une) (?:robot|bot|machine|ia)\b")

# Distress or anger: offer a human at once and flag the contact as fragile.
DISTRESS_PATTERNS = [
    r"\burgent\w*\b",
    r"\burgence\b",
    r"\bn ?en peux plus\b",
    r"\bj ?en peux plus\b",
    r"\bau bout du rouleau\b",
    r"\ba bout\b",
    r"\bdesespere\w*\b",
    r"\bdetresse\b",
    r"\bsuicid\w*\b",
    r"\bme tuer\b",
    r"\bmettre fin a mes jours\b",
    r"\ben finir\b",
    r"\bplus (?:rien )?a manger\b",
    r"\bplus de quoi manger\b",
    r"\ba la rue\b",
    r"\bsans abri\b",
    r"\bsdf\b",
    r"\bexpulse\w*\b",
    r"\bau secours\b",
    r"\baidez[- ]moi\b",
    r"\bj ?ai peur\b",
    r"\bpleure\w*\b",
    r"\bdeprim\w*\b",
    r"\bmenace\w*\b",
    r"\bviolence\w*\b",
    r"\binadmissible\b",
    r"\binacceptable\b",
    r"\bscandal\w*\b",
    r"\bhonte\b",
    r"\bras le bol\b",
    r"\by en a marre\b",
    r"\ben ai marre\b",
    r"\bmarre\b",
    r"\bincompetent\w*\b",
    r"\bnul(?:le|s)?\b",
    r"\bfoutez?\b",
    r"\bfoutre\b",
    r"\bputain\b",
    r"\bmerde\w*\b",
    r"\bconn?ards?\b",
    r"\bconnasse\b",
    r"\bencul\w*\b",
    r"\bsalop\w*\b",
    r"\bbordel\b",
    r"\bfdp\b",
    r"\bntm\b",
    r"\bptn\b",
    r"\bvoleurs?\b",
    r"\bescroc\w*\b",
    r"\bplainte contre vous\b",
    r"\bavocat\b",
]
_DISTRESS_RE = re.compile("|".join(DISTRESS_PATTERNS))


def detect_distress(question: str) -> bool:
    return bool(_DISTRESS_RE.search(" ".join(T.raw_tokens(question))))


# An insult, or contempt for the service, that asks nothing ("t'es nul comme robot", "service
# lamentable, bande de parasites"): whatever words of the articles it holds ("ton aide vaut
# zéro"), it is not a question about them. Only when it is aimed at us (the assistant, the
# service, "vous êtes", "t'es"): "c'est nul, j'ai perdu ma carte Vitale" tells a situation and
# gets its article. "nulle part", "au pire" and "inutile de" are not insults; "voleurs" and
# "escrocs" tell a theft as often as they insult, and shame ("j'ai honte de demander") is
# distress: they are left to the distress list.
ABUSE_PATTERNS = [
    r"\bnul(?:le|s|les)?\b(?! part)",
    r"\bnullissime\b",
    r"\bnulos\b",
    r"\bnaze\b",
    r"\blamentable\w*\b",
    r"\bpitoyable\w*\b",
    r"\bminable\w*\b",
    r"\bpathetique\w*\b",
    r"\bridicule\w*\b",
    r"\bincapables?\b",
    r"\bincompetent\w*\b",
    r"\binutiles?\b(?! de)",
    r"\bsers? a rien\b",
    r"\bservez a rien\b",
    r"\bvaut (?:rien|zero|que dalle)\b",
    r"(?<!\bau )\bpire\b",
    r"\b(?:c est une|quelle) honte\b",
    r"\bhonteux\b",
    r"\bparasites?\b",
    r"\bfeignants?\b",
    r"\bfaineants?\b",
    r"\bdebiles?\b",
    r"\bidiots?\b",
    r"\bcretins?\b",
    r"\babrutis?\b",
    r"\bbouffons?\b",
    r"\bimbeciles?\b",
    r"\bstupides?\b",
    r"\bcon(?:ne)?s?\b",
    r"\bconn?ards?\b",
    r"\bconnasse\b",
    r"\bmerd\w*\b",
    r"\bputain\b",
    r"\bfdp\b",
    r"\bntm\b",
    r"\bencul\w*\b",
    r"\bsalop\w*\b",
    r"\bta gueule\b",
    r"\buseless\b",
    r"\bstupid\b",
    r"\bdumb\b",
    r"\bworst\b",
    r"\brubbish\b",
    r"\bcrap\b",
    r"\bpathetic\b",
    r"\bsucks?\b",
    r"\bshit\w*\b",
    r"\bfuck\w*\b",
    r"\bmorons?\b",
]
_ABUSE_RE = re.compile("|".join(ABUSE_PATTERNS))
# Aimed at us: the assistant, the service, its site, its staff, or "you".
_AT_US_RE = re.compile(
    r"\b(?:t|tu|toi|te|vous etes|vous servez|ton|ta|tes|votre|vos|bot|robot|"
    r"chatbot|assistant|ia|service|services|site|appli|application|administration|"
    r"fonctionnaires|conseillers?|bande d\w*|you|your|you re)\b"
)
# A question is asked ("t'es nul, comment je refais ma carte ?"): it gets its answer.
_ASKS_RE = re.compile(
    r"\b(?:comment|pourquoi|quand|combien|quel|quelle|quels|quelles|est ce|puis je|peut on|"
    r"peux je|faut il|dois je|how|what|why|when|where|which|can i|do i|should i)\b"
)


def is_abuse(question: str) -> bool:
    """An insult or contempt aimed at us that asks no question (no "?", no interrogative
    word)."""
    if "?" in question:
        return False
    tokens = " ".join(T.raw_tokens(question))
    return (
        not _ASKS_RE.search(tokens)
        and bool(_ABUSE_RE.search(tokens))
        and bool(_AT_US_RE.search(tokens))
    )
