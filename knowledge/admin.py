"""Editing the knowledge base.

Two admin sites share the same ModelAdmins:
- the main Django admin (/admin/) for administrators;
- the knowledge editor (/console/connaissances/gestion/) for supervisors, who edit the articles
  and diagnosis trees of the services they supervise (content owners), without being Django
  "staff". A Markdown preview (sanitised exactly like the public pages) sits under the body.
"""

from __future__ import annotations

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db import models as db_models
from django.db.models import Q
from django.shortcuts import redirect, render, resolve_url
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from contactcenter.permissions import user_service_ids

from . import services
from .encoder import install_default_out_of_scope, missing_out_of_scope
from .lexicon import install_default_lexicon, missing_default_entries, normalise
from .models import (
    Article,
    ArticleTranslation,
    ArticleVersion,
    Conversation,
    DiagnosisChoice,
    DiagnosisNode,
    DiagnosisTree,
    DisputedAnswer,
    OutOfScopeExample,
    Redirection,
    SmallTalk,
    Synonym,
    Turn,
    UnansweredQuestion,
    validate_https,
)
from .redirections import published_article_texts, trigger_conflicts


class MarkdownPreviewWidget(forms.Textarea):
    """A textarea followed by a live, sanitised preview (static/knowledge/js/admin_preview.js)."""

    template_name = "knowledge/admin/markdown_widget.html"

    class Media:
        js = ("knowledge/js/admin_preview.js",)
        css = {"all": ("knowledge/css/admin.css",)}

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["preview_url"] = reverse("knowledge:markdown_preview")
        return context


class StringListField(forms.CharField):
    """A JSON list of strings edited as one item per line."""

    widget = forms.Textarea(attrs={"rows": 5})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        lines = [line.strip() for line in (value or "").splitlines()]
        return [line for line in lines if line]


class ArticleForm(forms.ModelForm):
    keywords = StringListField(
        label=_("Mots-clés (synonymes)"),
        required=False,
        help_text=_("Un par ligne : mots que les usagers emploient pour ce sujet."),
    )
    questions = StringListField(
        label=_("Questions types"),
        required=False,
        help_text=_("Une par ligne : façons dont les usagers posent la question."),
    )

    class Meta:
        model = Article
        fields = [
            "title",
            "slug",
            "topic",
            "audience",
            "status",
            "owner",
            "escalate",
            "body",
            "questions",
            "keywords",
            "related",
            "review_date",
            "expiry_date",
        ]
        widgets = {"body": MarkdownPreviewWidget(attrs={"rows": 18})}

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        review, expiry = cleaned.get("review_date"), cleaned.get("expiry_date")
        if review and expiry and review > expiry:
            self.add_error(
                "review_date", _("La date de révision doit précéder la date d'expiration.")
            )
        return cleaned


def _owned_q(user, prefix: str = "") -> Q:
    ids = user_service_ids(user)
    return Q(**{f"{prefix}owner_id__in": ids}) | Q(
        **{f"{prefix}owner__isnull": True, f"{prefix}topic__service_id__in": ids}
    )


class ScopedPermissionMixin:
    """Supervisors edit content of their services; administrators edit everything."""

    def _allowed(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or user.is_admin_role or user.is_supervisor)

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request, *args):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser or request.user.is_admin_role


class ArticleVersionInline(ScopedPermissionMixin, admin.TabularInline):
    model = ArticleVersion
    extra = 0
    can_delete = False
    fields = ("number", "title", "status", "author", "comment", "created_at")
    readonly_fields = fields
    ordering = ("-number",)
    verbose_name_plural = _("historique des versions")

    def has_add_permission(self, request, obj=None):
        return False


class ArticleTranslationInline(ScopedPermissionMixin, admin.StackedInline):
    """The article's English version, edited and reviewed on the article's page.

    Shown to English questions only once marked reviewed; a new French title or body sends
    it back to review (see knowledge/services/translations.py)."""

    model = ArticleTranslation
    extra = 0
    max_num = len(ArticleTranslation.Language.choices)
    fields = ("language", "title", "body", "status", "source_version", "reviewed_by", "reviewed_at")
    readonly_fields = ("source_version", "reviewed_by", "reviewed_at")
    formfield_overrides = {
        db_models.TextField: {"widget": MarkdownPreviewWidget(attrs={"rows": 12})}
    }
    verbose_name_plural = _("version anglaise")


def warn_taken_away(request, taken: list[tuple[str, str, str]], remedy: str) -> None:
    """Name to the editor each answer citizens rated helpful that a change took away."""
    for question, had, instead in taken:
        messages.warning(
            request,
            _(
                "« %(question)s », bien répondue jusqu'ici par l'article « %(had)s », "
                "reçoit maintenant %(instead)s : %(remedy)s"
            )
            % {"question": question, "had": had, "instead": instead, "remedy": remedy},
        )


class MissingDefaults(admin.ModelAdmin):
    """A page listing the entries shipped with Guichet that the table lacks (shipped after the
    deployment was installed, or deleted by its editors; ``import_kb`` fills only an empty
    table and a migration only adds what it names): the editor adds the ones ticked, or all of
    them. Adding an entry already there does nothing, so a repeated submission adds nothing
    twice; the answers citizens rated helpful are replayed, as for any change, and each one the
    addition takes away is named. The list links to the page while anything is missing."""

    change_list_template = "knowledge/admin/defaults_change_list.html"
    defaults_path: str  # under the list's URL
    defaults_key: str  # the field a ticked entry posts
    defaults_template: str
    defaults_title: str | Promise
    defaults_choose: str | Promise  # nothing ticked
    defaults_remedy: str | Promise  # for an answer the addition takes away

    def missing_defaults(self) -> list[dict[str, str]]:
        raise NotImplementedError

    def install_defaults(self, chosen: set[str]) -> int:
        raise NotImplementedError

    def defaults_added(self, n: int) -> str:
        raise NotImplementedError

    def defaults_missing_label(self, n: int) -> str:
        raise NotImplementedError

    def get_urls(self):
        opts = self.model._meta
        defaults = path(
            self.defaults_path,
            self.admin_site.admin_view(self.missing_defaults_view),
            name=f"{opts.app_label}_{opts.model_name}_defaults",
        )
        return [defaults, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        missing = len(self.missing_defaults())
        label = self.defaults_missing_label(missing) if missing else ""
        return super().changelist_view(
            request, {"missing_defaults_label": label, **(extra_context or {})}
        )

    def missing_defaults_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        missing = self.missing_defaults()
        if request.method == "POST":
            if "_all" in request.POST:
                chosen = {e[self.defaults_key] for e in missing}
            else:
                chosen = set(request.POST.getlist(self.defaults_key))
            if chosen:
                confirmed = services.still_answered(services.confirmed_answers())
                added = self.install_defaults(chosen)
                messages.success(request, self.defaults_added(added))
                warn_taken_away(request, services.taken_away(confirmed), str(self.defaults_remedy))
                opts = self.model._meta
                changelist = reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_changelist",
                    current_app=self.admin_site.name,
                )
                return redirect(changelist)
            messages.error(request, str(self.defaults_choose))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": self.defaults_title,
            "missing": missing,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.defaults_template, context)


class ReplaysConfirmedAnswers(admin.ModelAdmin):
    """A saved change to what steers the assistant (an article, a lexicon entry, a
    redirection, an out-of-scope example; added, edited, switched off or deleted, one at a
    time or from the list) replays the answers citizens rated helpful
    (``services.confirmed_answers``), and each one it takes away is named to the editor, who
    can undo or reword the change. A form shown again with its errors saved nothing: no
    warning."""

    def _replayed(self, request, view, *args):
        if request.method != "POST":
            return view(request, *args)
        confirmed = services.still_answered(services.confirmed_answers())
        response = view(request, *args)
        if response.status_code == 302 and confirmed:
            remedy = gettext("vérifiez la modification que vous venez d'enregistrer.")
            warn_taken_away(request, services.taken_away(confirmed), remedy)
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._replayed(request, super().changeform_view, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        return self._replayed(request, super().changelist_view, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._replayed(request, super().delete_view, object_id, extra_context)


@admin.register(Article)
class ArticleAdmin(ReplaysConfirmedAnswers, ScopedPermissionMixin, admin.ModelAdmin):
    form = ArticleForm
    list_display = ("title", "topic", "audience", "status", "review_date", "expiry_date", "version")
    list_filter = ("status", "audience", "topic", "escalate")
    search_fields = ("title", "slug", "body")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("related",)
    readonly_fields = ("version", "published_at", "created_at", "updated_at")
    inlines = [ArticleTranslationInline, ArticleVersionInline]
    actions = ["publish", "archive"]
    fieldsets = (
        (None, {"fields": ("title", "slug", "topic", "audience", "status", "owner", "escalate")}),
        (_("Contenu"), {"fields": ("body", "questions", "keywords", "related")}),
        (_("Cycle de vie"), {"fields": ("review_date", "expiry_date")}),
        (_("Suivi"), {"fields": ("version", "published_at", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("topic", "owner")
        if request.user.is_superuser or request.user.is_admin_role:
            return qs
        return qs.filter(_owned_q(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        user = request.user
        if not (user.is_superuser or user.is_admin_role):
            from contactcenter.models import Service, Topic

            ids = user_service_ids(user)
            if db_field.name == "topic":
                kwargs["queryset"] = Topic.objects.filter(service_id__in=ids)
            elif db_field.name == "owner":
                kwargs["queryset"] = Service.objects.filter(id__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        services.save_article(
            obj,
            author=request.user,
            comment=gettext("Modification") if change else gettext("Création"),
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is not ArticleTranslation:
            return super().save_formset(request, form, formset, change)
        for translation in formset.save(commit=False):
            services.save_translation(translation, author=request.user)
        for gone in formset.deleted_objects:
            gone.delete()

    @admin.action(description=_("Publier les articles sélectionnés"))
    def publish(self, request, queryset):
        for article in queryset:
            article.status = Article.Status.PUBLISHED
            services.save_article(article, author=request.user, comment=gettext("Publication"))
        messages.success(request, _("Articles publiés."))

    @admin.action(description=_("Archiver les articles sélectionnés"))
    def archive(self, request, queryset):
        for article in queryset:
            article.status = Article.Status.ARCHIVED
            services.save_article(article, author=request.user, comment=gettext("Archivage"))
        messages.success(request, _("Articles archivés."))


@admin.register(SmallTalk)
class SmallTalkAdmin(ScopedPermissionMixin, admin.ModelAdmin):
    list_display = ("slug", "updated_at")

    def has_add_permission(self, request, *args):
        return request.user.is_superuser or request.user.is_admin_role

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or request.user.is_admin_role


@admin.register(Synonym)
class SynonymAdmin(
    MissingDefaults, ReplaysConfirmedAnswers, ScopedPermissionMixin, admin.ModelAdmin
):
    """The editors' lexicon: the knowledge team teaches the assistant citizens' words."""

    list_display = ("term", "replacement", "is_active", "note", "updated_at")
    list_filter = ("is_active",)
    list_editable = ("replacement", "is_active")
    search_fields = ("term", "replacement", "note")
    exclude = ("created_at",)  # set when the entry is made, not an editor's choice
    defaults_path = "entrees-par-defaut/"
    defaults_key = "term"
    defaults_template = "knowledge/admin/synonym_defaults.html"
    defaults_title = _("Entrées du lexique par défaut absentes")
    defaults_choose = _("Cochez au moins une entrée, ou ajoutez-les toutes.")
    defaults_remedy = _("désactivez l'entrée ajoutée qui l'attire.")

    def missing_defaults(self) -> list[dict[str, str]]:
        return missing_default_entries(Synonym)

    def install_defaults(self, chosen: set[str]) -> int:
        return install_default_lexicon(Synonym, terms=chosen)

    def defaults_added(self, n: int) -> str:
        return ngettext(
            "%(n)s entrée par défaut ajoutée au lexique.",
            "%(n)s entrées par défaut ajoutées au lexique.",
            n,
        ) % {"n": n}

    def defaults_missing_label(self, n: int) -> str:
        return ngettext(
            "%(n)s entrée par défaut absente", "%(n)s entrées par défaut absentes", n
        ) % {"n": n}


class RedirectionForm(forms.ModelForm):
    triggers = StringListField(
        label=_("Expressions déclenchantes"),
        help_text=_(
            "Une par ligne, telles que les usagers les écrivent (mots entiers ; accents, "
            "majuscules et ponctuation indifférents). Une expression qu'un article publié "
            "emploie est refusée : l'assistant ne répondrait plus par cet article."
        ),
    )
    url = forms.URLField(
        label=_("Adresse de l'organisme"),
        required=False,
        assume_scheme="https",
        validators=[validate_https],
    )

    class Meta:
        model = Redirection
        fields = [
            "title",
            "slug",
            "kind",
            "organisation",
            "triggers",
            "message",
            "message_en",
            "url",
            "is_active",
        ]

    def clean_triggers(self):
        triggers = self.cleaned_data["triggers"]
        if not any(normalise(t) for t in triggers):
            raise forms.ValidationError(_("Indiquez au moins une expression."), code="empty")
        clashes = trigger_conflicts(triggers, published_article_texts())
        if clashes:
            raise forms.ValidationError(
                [
                    _("« %(trigger)s » figure dans l'article « %(article)s ».")
                    % {"trigger": trigger, "article": title}
                    for trigger, title in clashes[:10]
                ],
                code="conflict",
            )
        return triggers


@admin.register(Redirection)
class RedirectionAdmin(ReplaysConfirmedAnswers, ScopedPermissionMixin, admin.ModelAdmin):
    """Subjects the base does not cover: the assistant sends people to the right organisation."""

    form = RedirectionForm
    list_display = ("title", "kind", "organisation", "is_active", "updated_at")
    list_filter = ("kind", "is_active")
    search_fields = ("title", "organisation", "slug", "message")
    prepopulated_fields = {"slug": ("title",)}


class AttachActionForm(ActionForm):
    article = forms.ModelChoiceField(
        label=_("article"),
        queryset=Article.objects.filter(status=Article.Status.PUBLISHED).order_by("title"),
        required=False,
    )


@admin.register(OutOfScopeExample)
class OutOfScopeExampleAdmin(
    MissingDefaults, ReplaysConfirmedAnswers, ScopedPermissionMixin, admin.ModelAdmin
):
    """Questions the service does not answer: the assistant declines them and their close
    neighbours (knowledge/engine.py, ``OUT_OF_SCOPE_MARGIN``)."""

    list_display = ("question", "is_active", "note", "updated_at")
    list_filter = ("is_active",)
    list_editable = ("is_active",)
    search_fields = ("question", "note")
    exclude = ("created_at",)  # set when the example is made, not an editor's choice
    defaults_path = "exemples-par-defaut/"
    defaults_key = "question"
    defaults_template = "knowledge/admin/outofscope_defaults.html"
    defaults_title = _("Exemples hors champ fournis absents")
    defaults_choose = _("Cochez au moins un exemple, ou ajoutez-les tous.")
    defaults_remedy = _("désactivez l'exemple ajouté qui la refuse.")

    def missing_defaults(self) -> list[dict[str, str]]:
        return [{"question": q} for q in missing_out_of_scope(OutOfScopeExample)]

    def install_defaults(self, chosen: set[str]) -> int:
        return install_default_out_of_scope(OutOfScopeExample, questions=chosen)

    def defaults_added(self, n: int) -> str:
        return ngettext(
            "%(n)s exemple hors champ fourni ajouté.",
            "%(n)s exemples hors champ fournis ajoutés.",
            n,
        ) % {"n": n}

    def defaults_missing_label(self, n: int) -> str:
        return ngettext("%(n)s exemple fourni absent", "%(n)s exemples fournis absents", n) % {
            "n": n
        }


class CitizenQuestionsAdmin(ScopedPermissionMixin, admin.ModelAdmin):
    """Citizens' questions the editors review (read-only turns): "rattacher à l'article…"
    adds the selected questions to an article's example questions (a new version, like any
    edit); "marquer hors champ" makes them out-of-scope examples."""

    search_fields = ("question",)
    date_hierarchy = "created_at"
    action_form = AttachActionForm
    actions = ["attach_to_article", "mark_out_of_scope"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Rattacher à l'article…"), permissions=["view"])
    def attach_to_article(self, request, queryset):
        article_id = request.POST.get("article")
        editable = Article.objects.all()
        if not (request.user.is_superuser or request.user.is_admin_role):
            editable = editable.filter(_owned_q(request.user))  # articles of their services
        article = editable.filter(pk=article_id).first() if article_id else None
        if article is None:
            messages.error(request, _("Choisissez l'article auquel rattacher les questions."))
            return
        questions = [turn.question for turn in queryset]
        # Answers citizens rated helpful, replayed after: a new example question can take
        # its neighbours away from their article.
        confirmed = services.still_answered(services.confirmed_answers())
        added = services.attach_questions(article, questions, author=request.user)
        messages.success(
            request,
            _("%(n)s question(s) ajoutée(s) aux questions types de « %(title)s ».")
            % {"n": added, "title": article.title},
        )
        # What the assistant answers now: an attached question may still not get the article.
        for question, instead in services.answered_otherwise(article, questions):
            messages.warning(
                request,
                _(
                    "L'assistant ne répond toujours pas avec cet article à « %(question)s » "
                    "(%(instead)s) : vérifiez les redirections et les autres articles."
                )
                % {"question": question, "instead": instead},
            )
        remedy = gettext("reformulez ou retirez la question rattachée qui l'attire.")
        warn_taken_away(request, services.taken_away(confirmed), remedy)

    @admin.action(description=_("Marquer hors champ"), permissions=["view"])
    def mark_out_of_scope(self, request, queryset):
        questions = [turn.question for turn in queryset]
        # A new out-of-scope example can make the assistant decline its neighbours too.
        confirmed = services.still_answered(services.confirmed_answers())
        added, answered = services.mark_out_of_scope(questions)
        messages.success(
            request, _("%(n)s question(s) ajoutée(s) aux questions hors champ.") % {"n": added}
        )
        for question, title in answered:
            messages.warning(
                request,
                _(
                    "L'assistant répond toujours à « %(question)s » par l'article « %(title)s » "
                    "(une de ses questions types en est trop proche)."
                )
                % {"question": question, "title": title},
            )
        remedy = gettext("retirez ou désactivez la question hors champ qui l'écarte.")
        warn_taken_away(request, services.taken_away(confirmed), remedy)


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(CitizenQuestionsAdmin):
    """Questions the assistant could not answer."""

    list_display = ("question", "created_at", "confidence")
    readonly_fields = ("question", "created_at", "confidence")
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(outcome=Turn.Outcome.DONT_KNOW)


@admin.register(DisputedAnswer)
class DisputedAnswerAdmin(CitizenQuestionsAdmin):
    """Answers citizens rated unhelpful: the wrong article ("rattacher à l'article…" the right
    one) or a subject the service does not handle ("marquer hors champ")."""

    list_display = ("question", "article", "created_at", "confidence")
    readonly_fields = ("question", "article", "created_at", "confidence")
    fields = readonly_fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(outcome=Turn.Outcome.ANSWERED, rating=-1)
            .select_related("article")
        )


class DiagnosisNodeInline(ScopedPermissionMixin, admin.TabularInline):
    model = DiagnosisNode
    extra = 1
    fields = ("key", "kind", "text", "detail", "article", "service")
    show_change_link = True


@admin.register(DiagnosisTree)
class DiagnosisTreeAdmin(ScopedPermissionMixin, admin.ModelAdmin):
    list_display = ("title", "topic", "is_active", "updated_at")
    list_filter = ("is_active", "topic")
    prepopulated_fields = {"slug": ("title",)}
    inlines = [DiagnosisNodeInline]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser or request.user.is_admin_role:
            return qs
        return qs.filter(topic__service_id__in=user_service_ids(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "root" and request.resolver_match:
            tree_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = DiagnosisNode.objects.filter(
                tree_id=tree_id, kind=DiagnosisNode.Kind.QUESTION
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class DiagnosisChoiceInline(ScopedPermissionMixin, admin.TabularInline):
    model = DiagnosisChoice
    fk_name = "node"
    extra = 2
    fields = ("position", "label", "next_node")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "next_node" and request.resolver_match:
            node_id = request.resolver_match.kwargs.get("object_id")
            node = DiagnosisNode.objects.filter(pk=node_id).first()
            if node is not None:
                kwargs["queryset"] = DiagnosisNode.objects.filter(tree_id=node.tree_id).exclude(
                    pk=node.pk
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(DiagnosisNode)
class DiagnosisNodeAdmin(ScopedPermissionMixin, admin.ModelAdmin):
    list_display = ("__str__", "kind", "text")
    list_filter = ("tree", "kind")
    inlines = [DiagnosisChoiceInline]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("tree")
        if request.user.is_superuser or request.user.is_admin_role:
            return qs
        return qs.filter(tree__topic__service_id__in=user_service_ids(request.user))


class TurnInline(admin.TabularInline):
    model = Turn
    extra = 0
    can_delete = False
    fields = ("seq", "question", "outcome", "article", "confidence", "rating", "distress")
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Read-only, administrators only (analytics; citizens' words, kept for a limited time)."""

    list_display = ("pk", "started_at", "topic", "handoff_offered", "handoff_kind", "fragile")
    list_filter = ("handoff_kind", "fragile", "handoff_offered")
    inlines = [TurnInline]
    readonly_fields = [f.name for f in Conversation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class KnowledgeEditorSite(admin.AdminSite):
    """Admin site for supervisors (content owners), mounted under the console."""

    site_header = _("Guichet — édition de la base de connaissances")
    site_title = _("Base de connaissances")
    index_title = _("Articles et diagnostics guidés")
    site_url = "/console/connaissances/"

    def has_permission(self, request):
        user = request.user
        return (
            user.is_active
            and user.is_authenticated
            and (user.is_superuser or user.is_admin_role or user.is_supervisor)
        )

    def admin_view(self, view, cacheable=False):
        """A logged-in person without the right gets a page saying why (403), not a redirect."""
        checked = super().admin_view(view, cacheable)

        @wraps(view)
        def inner(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                return self.forbidden(request)
            return checked(request, *args, **kwargs)

        return inner

    def forbidden(self, request):
        return render(request, "knowledge/editor_forbidden.html", status=403)

    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            return self.forbidden(request)
        return redirect(f"{resolve_url(settings.LOGIN_URL)}?next={request.get_full_path()}")


editor_site = KnowledgeEditorSite(name="knowledge_editor")
editor_site.register(Article, ArticleAdmin)
editor_site.register(DiagnosisTree, DiagnosisTreeAdmin)
editor_site.register(DiagnosisNode, DiagnosisNodeAdmin)
editor_site.register(Synonym, SynonymAdmin)
editor_site.register(Redirection, RedirectionAdmin)
editor_site.register(UnansweredQuestion, UnansweredQuestionAdmin)
editor_site.register(DisputedAnswer, DisputedAnswerAdmin)
editor_site.register(OutOfScopeExample, OutOfScopeExampleAdmin)

# Tutorials register themselves on both sites (their admin needs the classes above).
from . import tutorial_admin  # noqa: E402, F401
