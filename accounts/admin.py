from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.models import ExchangeAccount, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "is_staff", "is_active", "last_login", "date_joined")


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(admin.ModelAdmin):
    """Credentials appear only as "stored"/"deleted": admin never decrypts them."""

    list_display = (
        "label",
        "owner",
        "venue",
        "short_address",
        "mode",
        "status",
        "credential_expires_at",
        "sync_enabled",
    )
    list_filter = ("venue", "mode", "status", "sync_enabled")
    list_select_related = ("owner",)
    search_fields = ("label", "identity", "owner__username")
    raw_id_fields = ("owner",)
    # Endpoints are part of what the credentials are bound to: re-link to change them.
    readonly_fields = (
        "venue",
        "chain",
        "identity",
        "endpoints",
        "mode",
        "status",
        "last_error",
        "credential_expires_at",
        "verified_at",
        "stored_credentials",
        "created_at",
        "updated_at",
    )
    fields = ("owner", "label", "sync_enabled", *readonly_fields)
    actions = ("disable_sync", "delete_credentials")

    @admin.display(description="Credentials")
    def stored_credentials(self, obj: ExchangeAccount) -> str:
        rows = obj.credentials.order_by("kind")
        shown = [
            f"{row.get_kind_display()}: stored (encrypted)"
            + (f", public id {row.public_id}" if row.public_id else "")
            for row in rows
        ]
        return "; ".join(shown) or "deleted"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExchangeAccount]:
        queryset = super().get_queryset(request)
        # Staff who are not superusers see only their own accounts.
        return queryset if request.user.is_superuser else queryset.filter(owner=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts are linked through the verified flows, never typed in

    @admin.action(description="Pause syncing")
    def disable_sync(self, request: HttpRequest, queryset: QuerySet[ExchangeAccount]) -> None:
        count = queryset.update(sync_enabled=False)
        self.message_user(request, f"Paused syncing for {count} account(s).", messages.SUCCESS)

    @admin.action(description="Delete credentials (keep history)")
    def delete_credentials(self, request: HttpRequest, queryset: QuerySet[ExchangeAccount]) -> None:
        for account in queryset:
            services.account_delete_credentials(account=account)
        self.message_user(
            request, f"Deleted the credentials of {queryset.count()} account(s).", messages.SUCCESS
        )
