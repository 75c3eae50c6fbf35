"""Agent teams (``routing.models.Team``): which agents a supervisor may put in a team of a
service, and the form both the console (``console.teams``) and the admin use."""

from __future__ import annotations

from typing import cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactcenter.forms import DsfrFormMixin
from contactcenter.models import Service, User
from contactcenter.permissions import user_service_ids

from .models import Team


def agents_of(service_id: int) -> QuerySet[User]:
    """The active staff working for the service: who may be a member of its teams."""
    return (
        User.objects.filter(
            agent_profile__services=service_id,
            is_active=True,
            role__in=(User.Role.AGENT, User.Role.SUPERVISOR),
        )
        .order_by("last_name", "first_name", "pk")
        .distinct()
    )


def managed_services(user: User) -> QuerySet[Service]:
    """The services whose teams ``user`` manages: every one for an admin, else the services
    they supervise."""
    services = Service.objects.order_by("name")
    if user.is_admin_role:
        return services
    if not user.is_supervisor:
        return services.none()
    return services.filter(pk__in=user_service_ids(user))


class MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.email})" if name else obj.email


class TeamForm(DsfrFormMixin, forms.ModelForm):
    """A team's name and members, members limited to the agents of its service."""

    members = MemberChoiceField(
        label=gettext_lazy("Membres"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Team
        fields = ["name", "members"]
        labels = {"name": gettext_lazy("Nom de l'équipe")}

    def __init__(self, *args, service: Service, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.service = service
        members = cast(MemberChoiceField, self.fields["members"])
        members.queryset = agents_of(service.pk)
        self.fields["members"].widget.attrs.pop("class", None)  # DSFR checkboxes, one each

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        clash = Team.objects.filter(service=self.instance.service, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Ce service a déjà une équipe de ce nom."))
        return name
