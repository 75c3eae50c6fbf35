import uuid

from django import forms
from django.contrib import admin, messages
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Topic

from . import tts
from .models import Call, Menu, MenuNode

MAX_RECORDING_BYTES = 20 * 1024 * 1024


class MenuNodeForm(forms.ModelForm):
    class Meta:
        model = MenuNode
        fields = ("parent", "digit", "label", "action", "topic", "prompt", "recording")

    def clean_recording(self):
        """A recorded prompt is parsed (stdlib ``wave``) and stored converted to 8 kHz mono
        μ-law; anything else is refused with the reason."""
        upload = self.cleaned_data.get("recording")
        if not isinstance(upload, UploadedFile):
            return upload  # unchanged, or cleared
        if upload.size is not None and upload.size > MAX_RECORDING_BYTES:
            raise forms.ValidationError(_("L'enregistrement dépasse 20 Mo."))
        try:
            audio = tts.recording_to_ulaw(upload.read())
        except tts.RecordingError as exc:
            raise forms.ValidationError(
                _(
                    "Ce fichier n'est pas un enregistrement WAV utilisable (PCM 8 ou 16 bits, "
                    "mono ou stéréo) : %(reason)s."
                )
                % {"reason": exc}
            ) from None
        return ContentFile(audio, name=f"{uuid.uuid4().hex}.ulaw")


class MenuNodeInline(admin.TabularInline):
    model = MenuNode
    form = MenuNodeForm
    extra = 1
    fields = ("parent", "digit", "label", "action", "topic", "prompt", "recording")

    def has_change_permission(self, request, obj=None):
        # A published or archived version is frozen: copy it to a new draft to change it.
        return obj is None or obj.status == Menu.Status.DRAFT

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        parent = formset.form.base_fields.get("parent")
        if parent is not None:
            # A choice hangs under a submenu of the same version only.
            parent.queryset = (  # type: ignore[attr-defined]
                MenuNode.objects.filter(menu=obj, action=MenuNode.Action.SUBMENU)
                if obj is not None
                else MenuNode.objects.none()
            )
        topic = formset.form.base_fields.get("topic")
        if topic is not None:
            # The topics of the menu's service only.
            topic.queryset = (  # type: ignore[attr-defined]
                Topic.objects.filter(service=obj.service_id, is_active=True)
                if obj is not None
                else Topic.objects.none()
            )
        return formset


@admin.register(Menu)
class MenuAdmin(admin.ModelAdmin):
    list_display = ("service", "version", "status", "created_at", "published_at")
    list_filter = ("status", "service")
    readonly_fields = ("status", "published_at")
    inlines = [MenuNodeInline]
    actions = ["publish", "copy_to_draft"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != Menu.Status.DRAFT:
            return (
                "service",
                "version",
                "status",
                "welcome",
                "callbot_hints",
                "agent_topic",
                "answer_target",
                "published_at",
            )
        return self.readonly_fields

    @admin.action(description=_("Publier la version (remplace la version publiée)"))
    def publish(self, request: HttpRequest, queryset: QuerySet[Menu]) -> None:
        for menu in queryset.filter(status=Menu.Status.DRAFT):
            with transaction.atomic():
                Menu.objects.filter(service=menu.service, status=Menu.Status.PUBLISHED).update(
                    status=Menu.Status.ARCHIVED
                )
                menu.status, menu.published_at = Menu.Status.PUBLISHED, timezone.now()
                menu.save(update_fields=["status", "published_at"])
            self.message_user(request, _("Version %(v)s publiée.") % {"v": menu.version})

    @admin.action(description=_("Copier en nouveau brouillon"))
    def copy_to_draft(self, request: HttpRequest, queryset: QuerySet[Menu]) -> None:
        for menu in queryset:
            with transaction.atomic():
                last = Menu.objects.filter(service=menu.service).aggregate(v=Max("version"))["v"]
                draft = Menu.objects.create(
                    service=menu.service,
                    version=(last or 0) + 1,
                    welcome=menu.welcome,
                    callbot_hints=menu.callbot_hints,
                    agent_topic_id=menu.agent_topic_id,
                    answer_target=menu.answer_target,
                )
                copies: dict[int, MenuNode] = {}
                # Parents before children: a node's parent is copied first.
                pending = list(menu.nodes.order_by("pk"))
                while pending:
                    node = next(n for n in pending if n.parent_id is None or n.parent_id in copies)
                    pending.remove(node)
                    copies[node.pk] = MenuNode.objects.create(
                        menu=draft,
                        parent=copies.get(node.parent_id) if node.parent_id else None,
                        digit=node.digit,
                        label=node.label,
                        action=node.action,
                        prompt=node.prompt,
                        recording=node.recording.name,
                        topic_id=node.topic_id,
                    )
            self.message_user(
                request, _("Brouillon %(v)s créé.") % {"v": draft.version}, messages.SUCCESS
            )


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("started_at", "caller", "called", "service", "position", "ended_by")
    list_filter = ("ended_by", "service")
    search_fields = ("caller", "called", "case__reference")
    raw_id_fields = ("citizen", "case", "menu", "agent")
    readonly_fields = [f.name for f in Call._meta.fields]

    def has_add_permission(self, request):
        return False
