"""Editing video tutorials, in the Django admin and the supervisors' knowledge editor.

The form parses an uploaded video's container (``tutorials.inspect_video``), checks the
captions file against the video's duration (``tutorials.parse_webvtt``) and an embedded
video's host; publication needs captions and a transcript (also a database constraint).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.permissions import user_service_ids

from . import tutorials
from .admin import ScopedPermissionMixin, editor_site
from .models import Article, Tutorial


class TutorialForm(forms.ModelForm):
    captions_file = forms.FileField(
        label=_("Fichier de sous-titres (WebVTT)"),
        required=False,
        help_text=_(
            "Obligatoire pour publier (RGAA). Un fichier .vtt commençant par « WEBVTT ». "
            "Laisser vide pour garder les sous-titres actuels."
        ),
    )

    embed_url = forms.URLField(
        label=_("adresse de la vidéo hébergée"),
        required=False,
        assume_scheme="https",
        help_text=_("À la place d'un fichier : une vidéo d'un hébergeur autorisé, en https."),
    )

    class Meta:
        model = Tutorial
        fields = ["title", "slug", "topic", "article", "status", "video", "embed_url", "transcript"]
        widgets = {"transcript": forms.Textarea(attrs={"rows": 10})}
        help_texts = {
            "video": _("WebM (VP8, VP9, AV1) ou MP4 (H.264, AV1). Le fichier est analysé."),
            "embed_url": _(
                "À la place d'un fichier : une vidéo d'un hébergeur autorisé, en https."
            ),
            "transcript": _("Obligatoire pour publier : tout ce qui est dit et montré, en texte."),
        }

    def clean(self):
        cleaned = super().clean() or {}
        instance = self.instance
        video, embed = cleaned.get("video"), cleaned.get("embed_url")
        if bool(video) == bool(embed):
            raise ValidationError(
                _("Choisissez soit un fichier vidéo, soit l'adresse d'une vidéo hébergée.")
            )
        if isinstance(video, UploadedFile):
            try:
                info = tutorials.inspect_video(video.open("rb"), video.size or 0)
            except ValidationError as exc:
                self.add_error("video", exc)
                return cleaned
            instance.video_format, instance.duration = info.format, round(info.duration)
        elif embed:
            try:
                tutorials.check_embed_url(embed)
            except ValidationError as exc:
                self.add_error("embed_url", exc)
            instance.video_format, instance.duration = "", None
        upload = cleaned.get("captions_file")
        if upload:
            try:
                instance.captions = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("captions_file", _("Les sous-titres doivent être encodés en UTF-8."))
                return cleaned
        if instance.captions:
            try:
                tutorials.parse_webvtt(instance.captions, instance.duration)
            except ValidationError as exc:
                self.add_error("captions_file", exc)
        if cleaned.get("status") == Tutorial.Status.PUBLISHED:
            if not instance.captions:
                self.add_error("captions_file", _("Des sous-titres sont nécessaires pour publier."))
            if not (cleaned.get("transcript") or "").strip():
                self.add_error("transcript", _("Une transcription est nécessaire pour publier."))
        article, topic = cleaned.get("article"), cleaned.get("topic")
        if article is not None and topic is not None and article.topic_id != topic.pk:
            self.add_error("article", _("L'article doit appartenir au thème du tutoriel."))
        return cleaned


@admin.register(Tutorial)
class TutorialAdmin(ScopedPermissionMixin, admin.ModelAdmin):
    form = TutorialForm
    list_display = ("title", "topic", "article", "status", "duration", "published_at")
    list_filter = ("status", "topic")
    search_fields = ("title", "slug", "transcript")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("duration", "published_at", "created_at", "updated_at")

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("topic", "article")
        if request.user.is_superuser or request.user.is_admin_role:
            return qs
        return qs.filter(topic__service_id__in=user_service_ids(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        user = request.user
        if not (user.is_superuser or user.is_admin_role):
            from contactcenter.models import Topic

            ids = user_service_ids(user)
            if db_field.name == "topic":
                kwargs["queryset"] = Topic.objects.filter(service_id__in=ids)
            elif db_field.name == "article":
                kwargs["queryset"] = Article.objects.filter(topic__service_id__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if obj.created_by_id is None:
            obj.created_by = request.user
        if obj.status == Tutorial.Status.PUBLISHED and obj.published_at is None:
            obj.published_at = timezone.now()
        super().save_model(request, obj, form, change)


editor_site.register(Tutorial, TutorialAdmin)
