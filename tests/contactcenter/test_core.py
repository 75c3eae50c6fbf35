import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from contactcenter.models import AuditLog, Case, Event, Transfer
from contactcenter.permissions import get_case_or_404, record_access, visible_cases
from contactcenter.services import change_status, citizen_history, next_reference, rate_case
from contactcenter.signals import case_needs_routing


def test_references_are_sequential_per_year(db):
    with transaction.atomic():
        first = next_reference(2026)
        second = next_reference(2026)
    assert first == "2026-000001"
    assert second == "2026-000002"
    with transaction.atomic():
        assert next_reference(2027) == "2027-000001"


def test_open_case_writes_case_and_first_event(case_a, citizen):
    assert case_a.reference.count("-") == 1
    assert case_a.status == Case.Status.NEW
    event = case_a.events.get()
    assert event.type == Event.Type.MESSAGE
    assert event.citizen == citizen and event.actor == citizen


def test_open_case_requests_routing_after_commit(
    citizen, topic_a, django_capture_on_commit_callbacks
):
    from contactcenter.services import open_case

    seen = []

    def receiver(sender, case_id, **kwargs):
        seen.append(case_id)

    case_needs_routing.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            case, _ = open_case(
                citizen=citizen,
                topic=topic_a,
                kind="question",
                channel="web",
                subject="x",
                body="y",
            )
            assert seen == []
        assert seen == [case.pk]
    finally:
        case_needs_routing.disconnect(receiver)


def test_citizen_sees_only_own_cases(citizen, citizen2, case_a, case_b):
    assert list(visible_cases(citizen)) == [case_a]
    assert list(visible_cases(citizen2)) == [case_b]
    with pytest.raises(Http404):
        get_case_or_404(citizen, pk=case_b.pk)


def test_agent_of_other_service_gets_404(agent_a, agent_b, case_a, case_b):
    assert get_case_or_404(agent_a, pk=case_a.pk) == case_a
    with pytest.raises(Http404):
        get_case_or_404(agent_a, pk=case_b.pk)
    with pytest.raises(Http404):
        get_case_or_404(agent_b, pk=case_a.pk)


def test_agent_sees_case_transferred_to_them_while_pending(agent_b, agent_a, case_a):
    transfer = Transfer.objects.create(
        case=case_a,
        from_service=case_a.service,
        to_service=case_a.service,
        to_agent=agent_b,
        reason="Expertise santé",
        created_by=agent_a,
    )
    assert case_a in visible_cases(agent_b)
    transfer.accepted_at = transfer.created_at
    transfer.save()
    assert case_a not in visible_cases(agent_b)


def test_agent_scope_reads_services_and_pending_transfers_in_one_query(
    agent_a, agent_b, service_a, service_b, case_a, case_b, django_assert_num_queries
):
    from contactcenter.models import User
    from contactcenter.permissions import user_service_ids

    agent_a.agent_profile.services.add(service_b)
    Transfer.objects.create(
        case=case_b,
        from_service=case_b.service,
        to_service=case_b.service,
        to_agent=agent_a,
        reason="Dossier mixte",
        created_by=agent_b,
    )
    agent = User.objects.get(pk=agent_a.pk)  # nothing cached on it yet
    with django_assert_num_queries(1):
        visible_cases(agent)
    # The services in user_services' order (by name), as the audit's acting service expects.
    assert user_service_ids(agent) == [service_b.pk, service_a.pk]
    agent_a.agent_profile.services.remove(service_b)
    agent = User.objects.get(pk=agent_a.pk)
    assert set(visible_cases(agent)) == {case_a, case_b}  # service a, and the pending transfer
    with django_assert_num_queries(1):  # services cached: only the pending transfers again
        visible_cases(agent)


def test_supervisor_sees_their_services_only(supervisor, case_a, case_b):
    assert list(visible_cases(supervisor)) == [case_a]


def test_admin_sees_everything(admin_user, case_a, case_b):
    assert set(visible_cases(admin_user)) == {case_a, case_b}


def test_staff_reads_are_audited_not_citizens(agent_a, citizen, case_a):
    assert record_access(citizen, AuditLog.Action.VIEW_CASE, case=case_a) is None
    log = record_access(agent_a, AuditLog.Action.VIEW_CASE, case=case_a, reason="Appel")
    assert log.citizen == citizen and log.actor_service == case_a.service


def test_status_transitions_are_checked_and_recorded(case_a, agent_a):
    change_status(case_a, Case.Status.ANSWERED, actor=agent_a)
    change_status(case_a, Case.Status.CLOSED, actor=agent_a, resolution="answered")
    case_a.refresh_from_db()
    assert case_a.closed_at and case_a.resolution == "answered"
    with pytest.raises(ValidationError):
        change_status(case_a, Case.Status.WAITING_CITIZEN, actor=agent_a)
    assert case_a.events.filter(type=Event.Type.STATUS).count() == 2


def test_stale_status_change_is_refused(case_a, agent_a):
    stale = Case.objects.get(pk=case_a.pk)
    change_status(case_a, Case.Status.IN_PROGRESS, actor=agent_a)
    with pytest.raises(ValidationError):
        change_status(stale, Case.Status.ANSWERED, actor=agent_a)


def test_rating_only_once_answered_and_between_1_and_5(case_a, citizen, citizen2):
    with pytest.raises(ValidationError):
        rate_case(case_a, citizen, 5)
    change_status(case_a, Case.Status.ANSWERED)
    with pytest.raises(ValidationError):
        rate_case(case_a, citizen, 6)
    with pytest.raises(ValidationError):
        rate_case(case_a, citizen2, 4)
    satisfaction = rate_case(case_a, citizen, 4, "Merci")
    assert satisfaction.score == 4
    assert rate_case(case_a, citizen, 5).pk == satisfaction.pk


def test_history_hides_internal_notes(case_a, citizen, agent_a):
    from contactcenter.services import add_event

    add_event(case_a, Event.Type.NOTE, actor=agent_a, internal=True, body="secret")
    history = list(citizen_history(citizen))
    assert all(not e.internal for e in history)
    assert len(history) == 1
