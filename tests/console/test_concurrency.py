"""Two agents taking the same queued case at the same instant: one wins, the other is told.

Real concurrency needs PostgreSQL (row locks, separate connections per thread); SQLite
serialises writers on one file and the in-memory test database is not shared between threads.
"""

import pytest
from django.core.exceptions import ValidationError

from console import worklist as console
from contactcenter.models import Case, Event
from tests.concurrency import POSTGRES_ONLY, race
from tests.conftest import client_for
from tests.console.conftest import new_case

pytestmark = POSTGRES_ONLY


@pytest.mark.django_db(transaction=True)
def test_concurrent_take_has_exactly_one_winner(agent_a, agent_a2, citizen, topic_a):
    for _round in range(15):
        case = new_case(citizen, topic_a)

        def taker(agent, case_id=case.pk):
            console.take(agent, Case.objects.get(pk=case_id))
            return agent.pk

        results = race([lambda: taker(agent_a), lambda: taker(agent_a2)])
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, ValidationError)]
        assert len(winners) == 1, results
        assert len(losers) == 1, results
        assert losers[0].messages == ["Cette demande vient d'être prise par un autre agent."]
        case.refresh_from_db()
        assert case.assigned_to_id == winners[0]
        assert Event.objects.filter(case=case, type=Event.Type.ASSIGNMENT).count() == 1, (
            "one owner, one assignment on the timeline"
        )


@pytest.mark.django_db(transaction=True)
def test_concurrent_take_through_the_console_tells_the_loser(agent_a, agent_a2, citizen, topic_a):
    case = new_case(citizen, topic_a)
    url = f"/console/demandes/{case.reference}/prendre/"
    clients = [client_for(agent_a), client_for(agent_a2)]

    def post(client):
        response = client.post(url, {"retour": "/console/?vue=queue"}, HTTP_HX_REQUEST="true")
        return response.status_code, response.content.decode()

    results = race([lambda: post(clients[0]), lambda: post(clients[1])])
    statuses = sorted(status for status, _html in results)
    assert statuses == [200, 204], results
    loser_html = next(html for status, html in results if status == 200)
    assert "Cette demande vient d&#x27;être prise par un autre agent." in loser_html
    case.refresh_from_db()
    assert case.assigned_to_id in (agent_a.pk, agent_a2.pk)
