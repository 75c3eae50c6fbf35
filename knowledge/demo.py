"""Demo data of the knowledge app (loaded on ``demo_loaded``): two guided-diagnosis trees and
the reviewed English versions of the reference articles (``faq_en.json``).

Idempotent: trees, steps and answers are matched by their keys and updated in place.
"""

from __future__ import annotations

from django.db import transaction

from contactcenter.demo import KB_PATH
from contactcenter.models import Service, Topic

from .models import Article, DiagnosisChoice, DiagnosisNode, DiagnosisTree
from .services.translations import load_translations

Q, ART, DOCS, TRANSFER = (
    DiagnosisNode.Kind.QUESTION,
    DiagnosisNode.Kind.ARTICLE,
    DiagnosisNode.Kind.DOCUMENTS,
    DiagnosisNode.Kind.TRANSFER,
)

# slug: (title, topic, description, nodes, root)
# node key: (kind, text, detail, article slug, transfer service code (None: the topic's), choices)
TREES = {
    "carte-vitale": (
        "Carte Vitale perdue, volée ou qui ne fonctionne plus",
        "sante",
        "Identifier la bonne démarche quand l'usager n'a plus de carte Vitale utilisable.",
        {
            "debut": (
                Q,
                "Que se passe-t-il avec la carte Vitale de l'usager ?",
                "",
                None,
                None,
                [
                    ("Elle est perdue ou volée", "soins"),
                    ("Elle est abîmée ou ne fonctionne plus", "remplacer"),
                    ("Il ne l'a jamais reçue", "delai"),
                ],
            ),
            "soins": (
                Q,
                "L'usager a-t-il besoin de soins dans les prochains jours ?",
                "Une attestation de droits suffit chez le médecin ou le pharmacien en attendant.",
                None,
                None,
                [("Oui", "attestation"), ("Non", "remplacer")],
            ),
            "delai": (
                Q,
                "La commande de la carte date-t-elle de plus de trois semaines ?",
                "",
                None,
                None,
                [("Oui", "pieces"), ("Non", "patienter")],
            ),
            "attestation": (
                ART,
                "Envoyer l'attestation de droits, puis commander une nouvelle carte",
                "Rappeler que la nouvelle carte arrive sous trois semaines environ.",
                "attestation-droits",
                None,
                [],
            ),
            "remplacer": (
                ART,
                "Commander une nouvelle carte Vitale depuis le compte en ligne",
                "",
                "carte-vitale-perdue",
                None,
                [],
            ),
            "pieces": (
                DOCS,
                "Relancer la fabrication de la carte",
                "Pièce d'identité en cours de validité\nPhoto d'identité récente\n"
                "Justificatif de domicile de moins de trois mois",
                None,
                None,
                [],
            ),
            "patienter": (
                TRANSFER,
                "Délai normal : si rien n'est arrivé dans trois semaines, transférer au service",
                "Indiquer à l'usager le délai de fabrication (trois semaines environ).",
                None,
                None,
                [],
            ),
        },
        "debut",
    ),
    "allocation-non-versee": (
        "Allocation chômage non versée",
        "emploi",
        "Comprendre pourquoi une allocation n'est pas arrivée et quoi faire pendant l'appel.",
        {
            "debut": (
                Q,
                "L'usager s'est-il actualisé ce mois-ci ?",
                "Vérifier dans le dossier la date de la dernière actualisation.",
                None,
                None,
                [("Oui", "paiement"), ("Non", "oubli"), ("Il ne sait pas", "oubli")],
            ),
            "paiement": (
                Q,
                "Le paiement apparaît-il dans l'historique des versements ?",
                "",
                None,
                None,
                [("Oui, mais rien sur le compte bancaire", "rib"), ("Non", "transfert")],
            ),
            "oubli": (
                Q,
                "Pourquoi l'actualisation n'a-t-elle pas été faite ?",
                "",
                None,
                None,
                [("Il a oublié", "oubliee"), ("Le site était en panne", "panne")],
            ),
            "rib": (
                DOCS,
                "Vérifier les coordonnées bancaires",
                "RIB au nom de l'usager\nRelevé bancaire du mois concerné",
                None,
                None,
                [],
            ),
            "transfert": (
                TRANSFER,
                "Paiement bloqué : transférer au service indemnisation",
                "Préciser dans le motif la date de la dernière actualisation.",
                None,
                None,
                [],
            ),
            "oubliee": (
                ART,
                "Expliquer comment régulariser une actualisation oubliée",
                "",
                "actualisation-oubliee",
                None,
                [],
            ),
            "panne": (
                ART,
                "Rétablir l'inscription interrompue à tort (procédure agent)",
                "",
                "retablir-inscription-a-tort",
                None,
                [],
            ),
        },
        "debut",
    ),
}


@transaction.atomic
def load_diagnosis_trees() -> int:
    """Create or update the demo trees; skip a tree whose topic is missing. Returns the count."""
    loaded = 0
    for slug, (title, topic_slug, description, nodes, root_key) in TREES.items():
        topic = Topic.objects.filter(slug=topic_slug).select_related("service").first()
        if topic is None:
            continue
        tree, _ = DiagnosisTree.objects.update_or_create(
            slug=slug, defaults={"title": title, "topic": topic, "description": description}
        )
        saved: dict[str, DiagnosisNode] = {}
        for key, (kind, text, detail, article_slug, service_code, _choices) in nodes.items():
            article = Article.objects.filter(slug=article_slug).first() if article_slug else None
            service = None
            if kind == TRANSFER:
                service = (
                    Service.objects.filter(code=service_code).first() if service_code else None
                ) or topic.service
            saved[key], _ = DiagnosisNode.objects.update_or_create(
                tree=tree,
                key=key,
                defaults={
                    "kind": kind,
                    "text": text,
                    "detail": detail,
                    "article": article,
                    "service": service,
                },
            )
        for key, (*_rest, choices) in nodes.items():
            node = saved[key]
            keep = []
            for position, (label, next_key) in enumerate(choices):
                choice, _ = DiagnosisChoice.objects.update_or_create(
                    node=node,
                    label=label,
                    defaults={"next_node": saved[next_key], "position": position},
                )
                keep.append(choice.pk)
            node.choices.exclude(pk__in=keep).delete()
        tree.root = saved[root_key]
        tree.save(update_fields=["root", "updated_at"])
        loaded += 1
    return loaded


# Reviewed English versions of the reference articles (contactcenter/demo_data/faq.json).
ENGLISH_PATH = KB_PATH.with_name("faq_en.json")


def on_demo_loaded(sender, **kwargs):
    load_diagnosis_trees()
    load_translations(ENGLISH_PATH)
    from .tutorial_demo import load_demo_tutorials

    load_demo_tutorials()
