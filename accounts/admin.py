"""Administration of the API clients (create one: its secret is shown once; revoke; see its
last use), of passkeys (see and remove a lost one; only their owner registers one), and of
webhooks (endpoints, their secret shown once; deliveries with each attempt, sent again)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from . import webhooks
from .api_clients import create_api_client, revoke_api_client
from .models import ApiClient, PasskeyDevice, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class ApiClientAddForm(forms.ModelForm):
    name = forms.CharField(label=_("nom"), max_length=255)
    scopes = forms.MultipleChoiceField(
        label=_("portées"),
        choices=ApiClient.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiClient
        fields = ["services"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "client_id",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
        "failed_webhooks",
    )
    list_filter = ("services",)
    readonly_fields = ("client_id", "scopes", "account", "created_at", "last_used_at", "revoked_at")
    fields = readonly_fields + ("services",)
    actions = ["revoke"]

    @admin.display(description=_("identifiant client"))
    def client_id(self, client: ApiClient) -> str:
        return client.application.client_id

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("application")

    def changelist_view(self, request, extra_context=None):
        self._failed = webhooks.failed_counts()
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("webhooks en échec"))
    def failed_webhooks(self, client: ApiClient) -> int:
        return getattr(self, "_failed", {}).get(client.pk, 0)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiClientAddForm
            kwargs["fields"] = ["name", "services", "scopes"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["name", "services", "scopes"] if obj is None else list(self.fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            if obj.is_active and obj.disabled_at is not None:
                # Re-enabled by an administrator: the count of failures starts again.
                obj.disabled_at, obj.disabled_reason, obj.consecutive_failures = None, "", 0
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        credentials = create_api_client(data["name"], data["services"], data["scopes"])
        obj.pk = credentials.client.pk
        obj.application = credentials.client.application
        messages.warning(
            request,
            _(
                "Identifiant client : %(id)s — secret : %(secret)s. Notez le secret "
                "maintenant : il n'est conservé que haché et ne sera plus affiché."
            )
            % {"id": credentials.client_id, "secret": credentials.client_secret},
        )

    def save_related(self, request, form, formsets, change):
        if change:  # on creation, create_api_client has set the services
            super().save_related(request, form, formsets, change)

    @admin.action(description=_("Révoquer (les jetons cessent de fonctionner)"))
    def revoke(self, request, queryset):
        for client in queryset.filter(revoked_at=None).select_related("application"):
            revoke_api_client(client)


@admin.register(PasskeyDevice)
class PasskeyDeviceAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "created_at", "last_used_at", "backed_up")
    search_fields = ("user__email", "name")
    fields = ("user", "name", "created_at", "last_used_at", "sign_count", "backed_up")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("adresse"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("événements"),
        choices=WebhookEndpoint.EventType.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["client", "url", "description", "events", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        webhooks.validate_url(url)
        return url

    def clean_client(self):
        client = self.cleaned_data["client"]
        webhooks.check_client(client)
        return client


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = (
        "url",
        "client",
        "events",
        "is_active",
        "disabled_at",
        "created_at",
        "failed_deliveries",
    )
    list_filter = ("is_active",)
    readonly_fields = ("created_at", "consecutive_failures", "disabled_at", "disabled_reason")
    actions = ["rotate_secret"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("client__application")
            .annotate(
                failed=Count(
                    "deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.FAILED)
                )
            )
        )

    @admin.display(description=_("envois en échec"), ordering="failed")
    def failed_deliveries(self, endpoint) -> int:
        return endpoint.failed

    def save_model(self, request, obj, form, change):
        if change:
            if obj.is_active and obj.disabled_at is not None:
                # Re-enabled by an administrator: the count of failures starts again.
                obj.disabled_at, obj.disabled_reason, obj.consecutive_failures = None, "", 0
            return super().save_model(request, obj, form, change)
        obj.secret = webhooks.generate_secret()
        super().save_model(request, obj, form, change)
        messages.warning(
            request,
            _("Secret de signature : %(secret)s. Notez-le maintenant : il ne sera plus affiché.")
            % {"secret": obj.secret},
        )

    @admin.action(description=_("Changer le secret de signature"))
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            messages.warning(
                request,
                _(
                    "Nouveau secret de %(url)s : %(secret)s. Notez-le maintenant : il ne sera "
                    "plus affiché."
                )
                % {"url": endpoint.url, "secret": webhooks.rotate_secret(endpoint)},
            )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "webhook_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("webhook_id",)
    fields = (
        "webhook_id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "body",
        "created_at",
    )
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("endpoint")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Renvoyer (même identifiant)"))
    def redeliver(self, request, queryset):
        count = webhooks.redeliver(queryset)
        messages.info(request, _("%(count)s envoi(s) remis en file.") % {"count": count})
