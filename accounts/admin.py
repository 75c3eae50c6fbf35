"""Administration of the API clients (create one: its secret is shown once; revoke; see its
last use) and of passkeys (see and remove a lost one; only their owner registers one)."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .api_clients import create_api_client, revoke_api_client
from .models import ApiClient, PasskeyDevice


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
    list_display = ("__str__", "client_id", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("services",)
    readonly_fields = ("client_id", "scopes", "account", "created_at", "last_used_at", "revoked_at")
    fields = readonly_fields + ("services",)
    actions = ["revoke"]

    @admin.display(description=_("identifiant client"))
    def client_id(self, client: ApiClient) -> str:
        return client.application.client_id

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("application")

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
