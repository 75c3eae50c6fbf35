"""The demo citizens have a few démarches, one of them waiting for a document."""

from contactcenter import demo as core_demo
from demarches.demo import load_demarches
from demarches.models import Demarche


def test_demo_demarches(db, client_as):
    services = core_demo.ensure_reference_data()
    people = core_demo.load_people(services)
    assert load_demarches(people["citizens"]) == 4
    assert load_demarches(people["citizens"]) == 0  # once
    camille = people["citizens"][0]
    waiting = Demarche.objects.get(citizen=camille, current_step__code="piece-manquante")
    assert waiting.accepts_document and waiting.history.count() == 2
    html = client_as(camille).get("/espace/demarches/").content.decode()
    assert "Action possible :" in html and "PASS-2026-000417" in html
