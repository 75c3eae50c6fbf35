"""Transfer to the competent service (liaison interservices)."""

import pytest
from django.core.exceptions import ValidationError
from django.utils.html import escape

from contactcenter import cases
from contactcenter.models import Case, Event, Transfer
from contactcenter.services import citizen_history
from contactcenter.signals import case_needs_routing


def test_transfer_moves_case_keeps_history_and_resets_assignment(
    agent_a, case_a, topic_b, django_capture_on_commit_callbacks
):
    Case.objects.filter(pk=case_a.pk).update(assigned_to=agent_a, status=Case.Status.IN_PROGRESS)
    case_a.refresh_from_db()
    events_before = Event.objects.filter(case=case_a).count()
    routed = []

    def receiver(sender, case_id, **kwargs):
        routed.append(case_id)

    case_needs_routing.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            transfer = cases.transfer_case(
                case_a, to_service=topic_b.service, reason="Question de remboursement", by=agent_a
            )
    finally:
        case_needs_routing.disconnect(receiver)
    case_a.refresh_from_db()
    assert case_a.service == topic_b.service
    assert case_a.topic == topic_b  # the new service's topic
    assert case_a.assigned_to is None and case_a.status == Case.Status.NEW
    assert routed == [case_a.pk]
    assert transfer.from_service_id != transfer.to_service_id
    assert transfer.reason == "Question de remboursement" and transfer.created_by == agent_a
    assert Event.objects.filter(case=case_a).count() == events_before + 1
    event = Event.objects.get(case=case_a, type=Event.Type.TRANSFER)
    assert not event.internal
    assert event.body == f"Votre demande a été transmise au service {topic_b.service.name}."
    assert "remboursement" not in event.body
    assert event.payload["reason"] == "Question de remboursement"


def test_citizen_sees_the_transfer_but_not_the_reason(client_as, agent_a, case_a, topic_b, citizen):
    cases.transfer_case(
        case_a, to_service=topic_b.service, reason="Motif interne secret", by=agent_a
    )
    history = list(citizen_history(citizen))
    assert any(e.type == Event.Type.TRANSFER for e in history)
    for path in ("/espace/historique/", f"/espace/demandes/{case_a.reference}/"):
        html = client_as(citizen).get(path).content.decode()
        assert "Motif interne secret" not in html
    html = client_as(citizen).get("/espace/historique/").content.decode()
    assert "Transfert" in html and escape(topic_b.service.name) in html
    html = client_as(citizen).get(f"/espace/demandes/{case_a.reference}/").content.decode()
    assert escape(f"transmise au service {topic_b.service.name}") in html


def test_transfer_to_the_same_service_is_refused(agent_a, case_a):
    with pytest.raises(ValidationError) as error:
        cases.transfer_case(case_a, to_service=case_a.service, reason="x", by=agent_a)
    assert "déjà traitée par le service" in str(error.value)
    assert not Transfer.objects.exists()


def test_transfer_to_an_inactive_service_is_refused(agent_a, case_a, inactive_service):
    with pytest.raises(ValidationError) as error:
        cases.transfer_case(case_a, to_service=inactive_service, reason="x", by=agent_a)
    assert "n'est plus actif" in str(error.value)
    case_a.refresh_from_db()
    assert case_a.service != inactive_service


def test_transfer_needs_a_reason(agent_a, case_a, topic_b):
    with pytest.raises(ValidationError) as error:
        cases.transfer_case(case_a, to_service=topic_b.service, reason="   ", by=agent_a)
    assert "motif du transfert" in str(error.value)


def test_closed_case_cannot_be_transferred(agent_a, case_a, topic_b):
    Case.objects.filter(pk=case_a.pk).update(status=Case.Status.CLOSED)
    with pytest.raises(ValidationError) as error:
        cases.transfer_case(case_a, to_service=topic_b.service, reason="x", by=agent_a)
    assert "rouvrez-la" in str(error.value)


def test_transfer_to_named_agent_must_belong_to_the_service(agent_a, agent_a2, case_a, topic_b):
    with pytest.raises(ValidationError) as error:
        cases.transfer_case(
            case_a, to_service=topic_b.service, reason="x", by=agent_a, to_agent=agent_a2
        )
    assert "ne fait pas partie du service" in str(error.value)


def test_named_transferee_sees_case_in_my_work_while_pending(
    client_as, agent_a, agent_b, case_a, topic_b
):
    cases.transfer_case(
        case_a, to_service=topic_b.service, reason="Pour Bruno", by=agent_a, to_agent=agent_b
    )
    response = client_as(agent_b).get("/console/")
    assert [c.reference for c in response.context["cases"]] == [case_a.reference]


def test_sender_loses_access_receiver_gains_it_and_sees_the_reason(
    client_as, agent_a, agent_b, case_a, topic_b
):
    response = client_as(agent_a).post(
        f"/console/demandes/{case_a.reference}/transferer/",
        {
            "to_service": topic_b.service.pk,
            "to_topic": topic_b.pk,
            "reason": "Relève de la CPAM : remboursement",
        },
    )
    assert response.status_code == 302
    assert response.url == "/console/"
    assert client_as(agent_a).get(f"/console/demandes/{case_a.reference}/").status_code == 404
    page = client_as(agent_b).get(f"/console/demandes/{case_a.reference}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Relève de la CPAM : remboursement" in html
    assert 'id="transfert-en-attente"' in html


def test_transfer_form_errors_are_precise_and_keep_the_reason(
    client_as, agent_a, case_a, inactive_service
):
    response = client_as(agent_a).post(
        f"/console/demandes/{case_a.reference}/transferer/",
        {"to_service": inactive_service.pk, "reason": "Texte conservé"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "n&#x27;est plus actif" in html
    assert "Texte conservé" in html
    response = client_as(agent_a).post(
        f"/console/demandes/{case_a.reference}/transferer/",
        {"to_service": case_a.service_id, "reason": "x"},
    )
    assert response.status_code == 400
    assert "Ce service ne peut pas recevoir la demande." in response.content.decode()


def test_transfer_with_topic_of_another_service_is_refused(
    agent_a, case_a, topic_b, topic_a2, service_b
):
    with pytest.raises(ValidationError) as error:
        cases.transfer_case(case_a, to_service=service_b, reason="x", by=agent_a, to_topic=topic_a2)
    assert "ne relève pas du service" in str(error.value)


def test_transfer_timeline_entry_shows_reason_to_agents(
    client_as, agent_a, agent_b, case_a, topic_b
):
    cases.transfer_case(case_a, to_service=topic_b.service, reason="Vu avec la CPAM", by=agent_a)
    html = client_as(agent_b).get(f"/console/demandes/{case_a.reference}/").content.decode()
    assert "Motif (interne) :" in html
    assert "Transfert de Service des impôts des particuliers vers" in html


def test_routing_assignment_signal_accepts_transfer_only_for_receiving_side(
    agent_a, agent_a2, agent_b, case_a, topic_b
):
    from contactcenter.signals import case_assigned

    transfer = cases.transfer_case(case_a, to_service=topic_b.service, reason="CPAM", by=agent_a)
    case_assigned.connect(cases.on_case_assigned, dispatch_uid="test.console.accept")
    try:
        # Someone of the sending service getting it back does not accept the transfer...
        case_assigned.send(sender=Case, case_id=case_a.pk, agent_id=agent_a2.pk)
        transfer.refresh_from_db()
        assert transfer.accepted_at is None
        # ...an agent of the receiving service does.
        case_assigned.send(sender=Case, case_id=case_a.pk, agent_id=agent_b.pk)
        transfer.refresh_from_db()
        assert transfer.accepted_at is not None
    finally:
        case_assigned.disconnect(dispatch_uid="test.console.accept")


def test_accepting_twice_keeps_the_first_acceptance_time(agent_a, agent_b, case_a, topic_b):
    transfer = cases.transfer_case(case_a, to_service=topic_b.service, reason="CPAM", by=agent_a)
    assert cases.accept_transfers(case_a, agent_b) == 1
    transfer.refresh_from_db()
    first = transfer.accepted_at
    assert cases.accept_transfers(case_a, agent_b) == 0
    transfer.refresh_from_db()
    assert transfer.accepted_at == first
