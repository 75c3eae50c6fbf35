"""Agent console ("e-contacts"), mounted at /console/ under the "console" namespace."""

from django.urls import path

from . import alert_templates, mail_views, teams, trace_views, views
from . import workstation_views as poste

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("modeles-d-alerte/", alert_templates.alert_template_list, name="alert_templates"),
    path(
        "modeles-d-alerte/<int:service_id>/<slug:event>/<slug:channel>/<slug:language>/",
        alert_templates.alert_template_edit,
        name="alert_template_edit",
    ),
    path("equipes/", teams.team_list, name="teams"),
    path("equipes/<int:service_id>/nouvelle/", teams.team_edit, name="team_new"),
    path("equipes/<int:service_id>/<int:team_id>/", teams.team_edit, name="team_edit"),
    path("poste/", poste.workstation_page, name="workstation"),
    path("poste/liste/", poste.work_items, name="ws_items"),
    path("poste/file/", poste.queue, name="ws_queue"),
    path("poste/demandes/<str:reference>/", poste.item, name="ws_item"),
    path("poste/demandes/<str:reference>/transfert/", poste.transfer_form, name="ws_transfer"),
    path("poste/demandes/<str:reference>/usager/", poste.citizen, name="ws_citizen"),
    path("poste/demandes/<str:reference>/appel/", poste.call_hold, name="ws_call"),
    path("poste/demandes/<str:reference>/appelant/", poste.link_caller, name="ws_link_caller"),
    path(
        "poste/demandes/<str:reference>/appel/resume/", poste.call_summary, name="ws_call_summary"
    ),
    path("demandes/<str:reference>/", views.case_detail, name="case"),
    path("demandes/<str:reference>/prendre/", views.take, name="take"),
    path("demandes/<str:reference>/liberer/", views.release, name="release"),
    path("demandes/<str:reference>/attribuer/", views.assign, name="assign"),
    path("demandes/<str:reference>/repondre/", views.reply, name="reply"),
    path("demandes/<str:reference>/note/", views.note, name="note"),
    path("demandes/<str:reference>/cloturer/", views.close, name="close"),
    path("demandes/<str:reference>/rouvrir/", views.reopen, name="reopen"),
    path("demandes/<str:reference>/reclasser/", views.classify, name="classify"),
    path("demandes/<str:reference>/transferer/", views.transfer, name="transfer"),
    path("demandes/<str:reference>/motif/", views.access_reason, name="case_access_reason"),
    path("courriels/quarantaine/", mail_views.quarantine_list, name="quarantine"),
    path("courriels/quarantaine/lien/", mail_views.quarantine_link, name="quarantine_link"),
    path("courriels/quarantaine/<int:pk>/", mail_views.quarantine_item, name="quarantine_item"),
    path(
        "courriels/quarantaine/<int:pk>/liberer/",
        mail_views.quarantine_release,
        name="quarantine_release",
    ),
    path(
        "courriels/quarantaine/<int:pk>/supprimer/",
        mail_views.quarantine_delete,
        name="quarantine_delete",
    ),
    path(
        "courriels/demandes/<str:reference>/rattacher/",
        mail_views.link_sender,
        name="link_sender",
    ),
    path("contacts/<int:event_id>/a-retenir/", trace_views.contact_trace, name="contact_trace"),
    path("contacts/nouveau/", views.contact_search, name="contact_search"),
    path("contacts/nouveau/<int:citizen_id>/", views.contact_new, name="contact_new"),
    path("usagers/<int:citizen_id>/", views.citizen_sheet, name="citizen"),
    path(
        "usagers/<int:citizen_id>/motif/", views.citizen_access_reason, name="citizen_access_reason"
    ),
]
