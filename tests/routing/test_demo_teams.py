"""The demo has agent teams, and ratings naming their agents: the supervisor's dashboard shows
the satisfaction per team."""

from django.core.management import call_command

from contactcenter.models import Satisfaction, User
from routing import demo as routing_demo
from routing.models import Team


def test_demo_teams_show_on_the_supervisor_dashboard(db, client_as):
    call_command("load_demo", verbosity=0)
    teams = {t.name: t for t in Team.objects.prefetch_related("members")}
    assert len(teams) == len(routing_demo.DEMO_TEAMS) == 4
    assert {m.email for m in teams["Réclamations et contentieux"].members.all()} == {
        "marc.petit@guichet.example.fr",
        "alice.durand@guichet.example.fr",
    }
    # The contacts answered by the demo receivers that ran after routing's are rated now.
    routing_demo.load_ratings()
    rated = Satisfaction.objects.filter(agent__isnull=False, event__isnull=False)
    count = rated.count()
    assert count >= 6
    assert all(r.agent_id == r.case.assigned_to_id for r in rated.select_related("case"))
    # Once: a second run creates no team and rates nothing again.
    assert routing_demo.load_teams() == 0 and routing_demo.load_ratings() == 0
    assert Team.objects.count() == 4 and rated.count() == count

    sophie = User.objects.get(email="sophie.lambert@guichet.example.fr")
    page = client_as(sophie).get("/supervision/tableau-de-bord/").content.decode()
    assert "Satisfaction des usagers par équipe d&#x27;agents" in page
    for name in teams:
        assert name.replace("'", "&#x27;") in page
