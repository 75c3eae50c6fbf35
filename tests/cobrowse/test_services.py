"""Codes, invitations, consent, ending and the timeline record (no sockets involved)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cobrowse import services, tasks
from cobrowse.models import CobrowseSession
from contactcenter.models import Case, Event
from contactcenter.services import citizen_history

Status = CobrowseSession.Status
END = CobrowseSession.EndReason


def _accept(session, citizen, channel="test.citizen"):
    services.accept(session.pk, citizen, channel)
    services.agent_connected(session.pk, session.agent, "test.agent")
    session.refresh_from_db()
    return session


def _later(monkeypatch, **delta):
    moved = timezone.now() + timedelta(**delta)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moved)
    return moved


# --- Codes -----------------------------------------------------------------------------------
def test_code_is_six_digits_and_stored_only_as_a_digest(citizen):
    session, code = services.create_code(citizen)
    assert len(code) == 6 and code.isdigit()
    session.refresh_from_db()
    assert code not in session.code_digest
    assert session.code_digest == services.code_digest(code)
    assert session.status == Status.WAITING_CODE


def test_code_with_spaces_is_accepted(citizen, agent_a):
    _session, code = services.create_code(citizen)
    session = services.join_with_code(agent_a, f" {code[:3]} {code[3:]} ")
    assert session.agent == agent_a and session.status == Status.OFFERED
    assert session.agent_service.code == "sip"


def test_code_is_single_use(citizen, agent_a, agent_b):
    _session, code = services.create_code(citizen)
    services.join_with_code(agent_a, code)
    with pytest.raises(services.CobrowseError) as error:
        services.join_with_code(agent_b, code)
    assert error.value.code == "used"
    assert "déjà été utilisé" in error.value.message


def test_code_expires_after_ten_minutes(citizen, agent_a, monkeypatch):
    session, code = services.create_code(citizen)
    assert session.expires_at - session.created_at == timedelta(minutes=10)
    _later(monkeypatch, minutes=10, seconds=1)
    with pytest.raises(services.CobrowseError) as error:
        services.join_with_code(agent_a, code)
    assert error.value.code == "expired"
    session.refresh_from_db()
    assert session.status == Status.EXPIRED


def test_code_still_valid_just_before_ten_minutes(citizen, agent_a, monkeypatch):
    _session, code = services.create_code(citizen)
    _later(monkeypatch, minutes=9, seconds=50)
    assert services.join_with_code(agent_a, code).status == Status.OFFERED


def test_new_code_replaces_the_unused_one(citizen, agent_a):
    first, first_code = services.create_code(citizen)
    _second, second_code = services.create_code(citizen)
    first.refresh_from_db()
    assert first.status == Status.ENDED and first.end_reason == END.REPLACED
    with pytest.raises(services.CobrowseError):
        services.join_with_code(agent_a, first_code)
    assert services.join_with_code(agent_a, second_code).status == Status.OFFERED


def test_malformed_code_does_not_count_as_a_wrong_guess(agent_a):
    for _ in range(10):
        with pytest.raises(services.CobrowseError) as error:
            services.join_with_code(agent_a, "12a45")
        assert error.value.code == "format"
    assert services.lockout_until(agent_a) is None


def test_five_wrong_codes_lock_the_agent_out_for_fifteen_minutes(
    citizen, citizen2, agent_a, agent_b, monkeypatch
):
    _session, code = services.create_code(citizen)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    remaining = []
    for _ in range(4):
        with pytest.raises(services.CobrowseError) as error:
            services.join_with_code(agent_a, wrong)
        assert error.value.code == "unknown"
        remaining.append(error.value.message)
    assert "encore 4 essais" in remaining[0] and "encore 1 essai " in remaining[3]
    with pytest.raises(services.CobrowseError) as error:
        services.join_with_code(agent_a, wrong)
    assert error.value.code == "locked"
    # Even the right code is refused while locked out; another agent is not affected.
    with pytest.raises(services.CobrowseError) as error:
        services.join_with_code(agent_a, code)
    assert error.value.code == "locked"
    assert "bloquée jusqu'à" in error.value.message
    _other, other_code = services.create_code(citizen2)
    assert services.join_with_code(agent_b, other_code).status == Status.OFFERED
    until = services.lockout_until(agent_a)
    assert timedelta(minutes=14) < until - timezone.now() <= timedelta(minutes=15)
    _later(monkeypatch, minutes=15, seconds=1)
    assert services.lockout_until(agent_a) is None
    _session, fresh = services.create_code(citizen)  # the first one expired meanwhile
    assert services.join_with_code(agent_a, fresh).status == Status.OFFERED


def test_a_successful_code_resets_the_wrong_guesses(citizen, agent_a):
    _session, code = services.create_code(citizen)
    for _ in range(4):
        with pytest.raises(services.CobrowseError):
            services.join_with_code(agent_a, "000000" if code != "000000" else "111111")
    services.join_with_code(agent_a, code)
    for _ in range(4):
        with pytest.raises(services.CobrowseError) as error:
            services.join_with_code(agent_a, "000000" if code != "000000" else "111111")
        assert error.value.code == "unknown"


def test_only_staff_join_codes_and_only_citizens_get_them(citizen, citizen2, agent_a):
    with pytest.raises(services.CobrowseError):
        services.create_code(agent_a)
    _session, code = services.create_code(citizen)
    with pytest.raises(services.CobrowseError):
        services.join_with_code(citizen2, code)


# --- Invitations ------------------------------------------------------------------------------
def test_invitation_needs_the_citizen_online(citizen, agent_a, case_a):
    with pytest.raises(services.CobrowseError) as error:
        services.invite(agent_a, citizen=citizen, case=case_a)
    assert error.value.code == "offline"
    assert "Camille Martin n'est pas connecté(e)" in error.value.message
    services.mark_online(citizen.pk)
    session = services.invite(agent_a, citizen=citizen, case=case_a)
    assert session.status == Status.OFFERED and session.case == case_a


def test_second_agent_cannot_invite_over_a_pending_invitation(citizen, agent_a, agent_b):
    services.mark_online(citizen.pk)
    first = services.invite(agent_a, citizen=citizen)
    assert services.invite(agent_a, citizen=citizen).pk == first.pk  # same agent: re-sent
    with pytest.raises(services.CobrowseError) as error:
        services.invite(agent_b, citizen=citizen)
    assert error.value.code == "pending"


def test_no_invitation_while_sharing(citizen, agent_a, agent_b):
    services.mark_online(citizen.pk)
    _accept(services.invite(agent_a, citizen=citizen), citizen)
    with pytest.raises(services.CobrowseError) as error:
        services.invite(agent_b, citizen=citizen)
    assert error.value.code == "active"
    with pytest.raises(services.CobrowseError) as error:
        services.create_code(citizen)
    assert error.value.code == "active"


def test_invitation_expires_if_not_answered(citizen, agent_a, monkeypatch):
    services.mark_online(citizen.pk)
    session = services.invite(agent_a, citizen=citizen)
    _later(monkeypatch, minutes=11)
    assert tasks.sweep_stale_sessions() == 1
    session.refresh_from_db()
    assert session.status == Status.EXPIRED
    with pytest.raises(services.SessionUnavailable):
        services.accept(session.pk, citizen, "x")


# --- Consent ---------------------------------------------------------------------------------
def test_accept_only_by_the_citizen_and_only_once(citizen, citizen2, offered):
    with pytest.raises(services.SessionUnavailable):
        services.accept(offered.pk, citizen2, "x")
    services.accept(offered.pk, citizen, "x")
    with pytest.raises(services.SessionUnavailable):
        services.accept(offered.pk, citizen, "y")


# --- Ending and the record ----------------------------------------------------------------------
def test_ending_is_idempotent(citizen, offered, case_a):
    _accept(offered, citizen)
    assert services.end_session(offered.pk, END.CITIZEN) is not None
    assert services.end_session(offered.pk, END.AGENT) is None
    assert Event.objects.filter(type="cobrowse").count() == 1


def test_only_participants_end_a_session(citizen, citizen2, agent_b, offered, case_a):
    _accept(offered, citizen)
    assert services.end_session(offered.pk, END.CITIZEN, by=citizen2) is None
    assert services.end_session(offered.pk, END.AGENT, by=agent_b) is None
    offered.refresh_from_db()
    assert offered.status == Status.ACTIVE


def test_record_goes_on_the_case_the_invitation_came_from(citizen, agent_a, case_a, topic_a):
    other, _event = _open_case(citizen, topic_a)
    services.mark_online(citizen.pk)
    session = _accept(services.invite(agent_a, citizen=citizen, case=case_a), citizen)
    services.record_page(session.pk, "test.citizen", "/espace/")
    services.end_session(session.pk, END.AGENT)
    event = Event.objects.get(type="cobrowse")
    assert event.case_id == case_a.pk != other.pk
    assert event.channel == "cobrowse" and not event.internal
    assert event.payload["origin"] == "invitation"
    assert event.payload["pages"] == ["/espace/"]
    assert "Aide à distance avec Alice (Service des impôts des particuliers)" in event.body
    assert event in citizen_history(citizen)


def test_record_goes_on_the_most_recent_open_case_the_agent_can_see(
    citizen, offered, case_a, topic_a, topic_b
):
    newer_other_service, _ = _open_case(citizen, topic_b)
    _accept(offered, citizen)
    services.end_session(offered.pk, END.CITIZEN)
    event = Event.objects.get(type="cobrowse")
    assert event.case_id == case_a.pk
    assert event.case_id != newer_other_service.pk


def test_without_open_case_a_cobrowse_case_is_opened_and_answered(citizen, offered, topic_a):
    _accept(offered, citizen)
    services.end_session(offered.pk, END.CITIZEN)
    event = Event.objects.get(type="cobrowse")
    case = event.case
    assert case.channel == "cobrowse"
    assert case.kind == Case.Kind.QUESTION
    assert case.status == Case.Status.ANSWERED
    assert case.service == topic_a.service
    assert case.assigned_to is None
    assert case.first_response_at is not None
    assert event.actor == offered.agent


def test_record_duration_and_nothing_of_the_page(citizen, offered, case_a, monkeypatch):
    _accept(offered, citizen)
    services.record_page(offered.pk, "test.citizen", "/espace/demandes/2026-000001/")
    services.record_page(offered.pk, "test.citizen", "/espace/demandes/2026-000001/")
    services.record_page(offered.pk, "other.page", "/espace/ignored/")  # not the holder
    _later(monkeypatch, minutes=4, seconds=12)
    services.end_session(offered.pk, END.CITIZEN)
    event = Event.objects.get(type="cobrowse")
    assert event.payload["duration_seconds"] == 252
    assert event.payload["pages"] == ["/espace/demandes/2026-000001/"]
    assert "durée 4 min 12 s, 1 page vue" in event.body
    assert set(event.payload) == {
        "session",
        "origin",
        "agent_id",
        "agent",
        "service",
        "started_at",
        "ended_at",
        "duration_seconds",
        "pages",
        "end_reason",
    }


def test_declined_or_expired_offers_leave_no_timeline_event(citizen, offered):
    services.decline(offered.pk, citizen)
    assert not Event.objects.filter(type="cobrowse").exists()


def test_logout_of_the_citizen_ends_the_session(citizen, offered, case_a, client_as):
    _accept(offered, citizen)
    client = client_as(citizen)
    client.post("/deconnexion/")
    offered.refresh_from_db()
    assert offered.status == Status.ENDED and offered.end_reason == END.LOGOUT


def test_sweeper_ends_sessions_whose_side_left_or_that_idled(
    citizen, citizen2, agent_a, agent_b, offered, monkeypatch
):
    _accept(offered, citizen)
    services.citizen_left(offered.pk, "test.citizen")
    _session, code = services.create_code(citizen2)
    idle = _accept(services.join_with_code(agent_b, code), citizen2)
    _later(monkeypatch, seconds=20)
    assert tasks.sweep_stale_sessions() == 0  # still within the 30 s grace
    _later(monkeypatch, seconds=31)
    assert tasks.sweep_stale_sessions() == 1
    offered.refresh_from_db()
    assert offered.end_reason == END.CITIZEN_GONE
    _later(monkeypatch, minutes=10, seconds=1)
    assert tasks.sweep_stale_sessions() == 1
    idle.refresh_from_db()
    assert idle.end_reason == END.INACTIVITY
    assert tasks.sweep_stale_sessions() == 0  # safe to run again


def test_resume_after_the_grace_period_is_refused(citizen, offered, monkeypatch):
    _accept(offered, citizen)
    services.citizen_left(offered.pk, "test.citizen")
    _later(monkeypatch, seconds=31)
    with pytest.raises(services.SessionUnavailable) as gone:
        services.resume(offered.pk, citizen, "new.page")
    assert gone.value.reason == END.CITIZEN_GONE


def test_departure_of_an_old_page_does_not_count_once_a_new_one_holds(citizen, offered):
    _accept(offered, citizen, channel="page.one")
    services.resume(offered.pk, citizen, "page.two")
    assert not services.citizen_left(offered.pk, "page.one")
    offered.refresh_from_db()
    assert offered.citizen_channel == "page.two" and offered.citizen_left_at is None


def _open_case(citizen, topic):
    from contactcenter.services import open_case

    return open_case(
        citizen=citizen,
        topic=topic,
        kind=Case.Kind.QUESTION,
        channel="web",
        subject="Autre question",
        body="Bonjour",
        route=False,
    )
