"""Routing forms whose choices are set after construction: a bound form validates against
the choices the view gives it, and marks its invalid fields for assistive technologies."""

import pytest

from contactcenter.models import User
from routing.forms import ReassignForm, SkillsForm

pytestmark = pytest.mark.django_db


def test_reassign_form_validates_against_the_given_agents(agent_a, agent_b):
    agents = User.objects.filter(pk=agent_a.pk)
    form = ReassignForm({"agent": agent_a.pk}, agents=agents)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["agent"] == agent_a
    assert "aria-invalid" not in form.fields["agent"].widget.attrs

    other = ReassignForm({"agent": agent_b.pk}, agents=agents)
    assert not other.is_valid()
    assert other.errors["agent"] == ["Cet agent n'appartient pas au service de la demande."]
    assert other.fields["agent"].widget.attrs["aria-invalid"] == "true"
    assert other.fields["agent"].widget.attrs["aria-describedby"] == "id_agent-messages"


def test_skills_form_validates_against_the_given_skills(skill_a, skill_b):
    form = SkillsForm({"sk-skills": ["fiscalite"]}, skills=[skill_a], prefix="sk")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["skills"] == ["fiscalite"]

    other = SkillsForm({"sk-skills": ["sante"]}, skills=[skill_a], prefix="sk")
    assert not other.is_valid()
    assert other.errors["skills"] == ["Compétence inconnue : « sante »."]
