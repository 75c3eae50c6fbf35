import pytest

from accounts.api_clients import create_api_client
from accounts.models import ApiClient, OidcIdentity
from demarches.models import DemarcheType, DemarcheTypeStep
from tests.api.test_api_clients import bearer, issue_token

STEPS = [
    ("depot", "Dossier déposé", False, "", ""),
    ("piece-manquante", "Pièce manquante", True, "fournir une photo d'identité", ""),
    ("instruction", "En cours d'instruction", False, "", ""),
    (
        "disponible",
        "Titre disponible",
        True,
        "prendre rendez-vous",
        "https://rdv.example.fr/{reference}",
    ),
    ("remis", "Titre remis", False, "", ""),
]


@pytest.fixture
def passport_type(service_a):
    demarche_type = DemarcheType.objects.create(
        service=service_a, code="passeport", name="Demande de passeport", name_en="Passport"
    )
    for position, (code, label, action, action_label, url) in enumerate(STEPS):
        DemarcheTypeStep.objects.create(
            type=demarche_type,
            position=position,
            code=code,
            label=label,
            label_en=label + " (en)",
            requires_action=action,
            action_label=action_label,
            action_url=url,
        )
    return demarche_type


@pytest.fixture
def other_type(service_b):
    demarche_type = DemarcheType.objects.create(service=service_b, code="bourse", name="Bourse")
    DemarcheTypeStep.objects.create(type=demarche_type, code="depot", label="Déposé")
    return demarche_type


@pytest.fixture
def fc_citizen(citizen):
    OidcIdentity.objects.create(
        provider=OidcIdentity.Provider.FRANCECONNECT, sub="fc-sub-camille", user=citizen
    )
    citizen.tax_number = "1234567890123"
    citizen.save(update_fields=["tax_number"])
    return citizen


@pytest.fixture
def pusher(service_a):
    return create_api_client(
        "SI titres", [service_a], [ApiClient.Scope.DEMARCHES_WRITE, ApiClient.Scope.WEBHOOKS]
    )


@pytest.fixture
def api(pusher):
    return bearer(issue_token(pusher)["access_token"])


def create_body(reference="PASS-1", **extra):
    return {
        "type": "passeport",
        "reference": reference,
        "citizen": {"franceconnect_sub": "fc-sub-camille"},
        **extra,
    }
