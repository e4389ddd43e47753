from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.models import StandXAccount, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "is_staff", "is_active", "last_login", "date_joined")


@admin.register(StandXAccount)
class StandXAccountAdmin(admin.ModelAdmin):
    """Credentials appear only as "stored"/"deleted": admin never decrypts them."""

    list_display = (
        "label", "owner", "chain", "short_address", "mode", "status", "token_expires_at",
        "sync_enabled",
    )  # fmt: skip
    list_filter = ("chain", "mode", "status", "sync_enabled")
    list_select_related = ("owner",)
    search_fields = ("label", "address", "owner__username")
    raw_id_fields = ("owner",)
    fields = (
        "owner", "label", "chain", "address", "mode", "status", "last_error", "sync_enabled",
        "perps_url", "auth_url", "ws_url", "ws_api_url", "public_key", "token_expires_at",
        "verified_at", "token_state", "signing_key_state", "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = (
        "chain", "address", "mode", "public_key", "token_expires_at", "verified_at",
        # Endpoints are part of what the credentials are bound to: re-link to change them.
        "perps_url", "auth_url", "ws_url", "ws_api_url",
        "token_state", "signing_key_state", "created_at", "updated_at", "status", "last_error",
    )  # fmt: skip
    actions = ("disable_sync", "delete_credentials")

    @admin.display(description="API token")
    def token_state(self, obj: StandXAccount) -> str:
        return "stored (encrypted)" if obj.token_encrypted else "deleted"

    @admin.display(description="Signing key")
    def signing_key_state(self, obj: StandXAccount) -> str:
        return "stored (encrypted)" if obj.signing_key_encrypted else "none (read-only)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[StandXAccount]:
        queryset = super().get_queryset(request)
        # Staff who are not superusers see only their own accounts.
        return queryset if request.user.is_superuser else queryset.filter(owner=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts are linked through the verified flows, never typed in

    @admin.action(description="Pause syncing")
    def disable_sync(self, request: HttpRequest, queryset: QuerySet[StandXAccount]) -> None:
        count = queryset.update(sync_enabled=False)
        self.message_user(request, f"Paused syncing for {count} account(s).", messages.SUCCESS)

    @admin.action(description="Delete credentials (keep history)")
    def delete_credentials(self, request: HttpRequest, queryset: QuerySet[StandXAccount]) -> None:
        for account in queryset:
            services.account_delete_credentials(account=account)
        self.message_user(
            request, f"Deleted the credentials of {queryset.count()} account(s).", messages.SUCCESS
        )
