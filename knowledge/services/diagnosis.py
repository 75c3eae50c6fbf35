"""Guided diagnosis: walking a decision tree and saving its summary on a case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from contactcenter.models import Case, Event, User
from contactcenter.services import add_event

from ..models import DiagnosisChoice, DiagnosisNode, DiagnosisTree


@dataclass
class DiagnosisStep:
    node: DiagnosisNode
    choice: DiagnosisChoice | None  # the answer chosen at this node (None for the current one)


def walk(tree: DiagnosisTree, choice_ids: list[int]) -> list[DiagnosisStep]:
    """Replay a path of choice ids from the root; raise ValidationError if it leaves the tree."""
    if tree.root_id is None:
        raise ValidationError(_("Cet arbre n'a pas de première question."))
    nodes = {n.pk: n for n in tree.nodes.select_related("article", "service")}
    choices = {
        c.pk: c for c in DiagnosisChoice.objects.filter(node__tree=tree).order_by("position", "id")
    }
    node = nodes.get(tree.root_id)
    steps: list[DiagnosisStep] = []
    for choice_id in choice_ids:
        choice = choices.get(choice_id)
        if node is None or choice is None or choice.node_id != node.pk:
            raise ValidationError(_("Ce parcours ne correspond pas à l'arbre de diagnostic."))
        steps.append(DiagnosisStep(node, choice))
        node = nodes.get(choice.next_node_id)
        if len(steps) > len(nodes):
            raise ValidationError(_("Ce parcours boucle sur lui-même."))
    if node is None:
        raise ValidationError(_("Ce parcours ne correspond pas à l'arbre de diagnostic."))
    steps.append(DiagnosisStep(node, None))
    return steps


def parse_path(raw: str | None) -> list[int]:
    if not raw:
        return []
    try:
        return [int(part) for part in str(raw).split(",") if part.strip()]
    except ValueError:
        raise ValidationError(_("Parcours illisible."))


def diagnosis_summary(
    tree: DiagnosisTree, steps: list[DiagnosisStep]
) -> tuple[str, dict[str, Any]]:
    outcome = steps[-1].node
    lines = [_("Diagnostic guidé « %(title)s »") % {"title": tree.title}]
    path = []
    for step in steps[:-1]:
        choice = step.choice
        assert choice is not None  # walk() gives every step but the last its answer
        lines.append(f"- {step.node.text} → {choice.label}")
        path.append({"question": step.node.text, "answer": choice.label, "choice": choice.pk})
    result: dict[str, Any] = {"kind": outcome.kind, "text": outcome.text}
    lines.append(_("Issue : %(text)s") % {"text": outcome.text})
    if outcome.kind == DiagnosisNode.Kind.ARTICLE and outcome.article is not None:
        result["article"] = outcome.article.slug
        lines.append(_("Article : %(title)s") % {"title": outcome.article.title})
    elif outcome.kind == DiagnosisNode.Kind.DOCUMENTS:
        result["documents"] = outcome.documents
        lines += [f"  • {doc}" for doc in outcome.documents]
    elif outcome.kind == DiagnosisNode.Kind.TRANSFER and outcome.service is not None:
        result["service"] = outcome.service.code
        lines.append(_("Service : %(name)s") % {"name": outcome.service.name})
    return "\n".join(lines), {"tree": tree.slug, "path": path, "outcome": result}


def save_diagnosis(*, case: Case, agent: User, tree: DiagnosisTree, choice_ids: list[int]) -> Event:
    """Save the path an agent walked as a "diagnosis" event on the case timeline (internal).

    The caller has checked the agent may act on the case. The path must end on an outcome.
    """
    if not agent.is_staff_member:
        raise ValidationError(_("Seuls les agents peuvent enregistrer un diagnostic."))
    steps = walk(tree, choice_ids)
    if not steps[-1].node.is_outcome:
        raise ValidationError(
            _("Le diagnostic n'est pas terminé : répondez à la question « %(q)s ».")
            % {"q": steps[-1].node.text}
        )
    body, payload = diagnosis_summary(tree, steps)
    return add_event(
        case, Event.Type.DIAGNOSIS, actor=agent, internal=True, body=body, payload=payload
    )
