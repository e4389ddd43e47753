from __future__ import annotations

from django.urls import path

from accounts.twofactor import views

urlpatterns = [
    path("security/", views.security, name="security"),
    path("security/verify/", views.verify, name="second_factor_verify"),
    path("security/totp/", views.totp_setup, name="totp_setup"),
    path("security/totp/remove/", views.totp_remove, name="totp_remove"),
    path("security/recovery-codes/", views.recovery_codes_new, name="recovery_codes_new"),
    path(
        "security/passkeys/options/",
        views.passkey_register_options,
        name="passkey_register_options",
    ),
    path("security/passkeys/add/", views.passkey_register, name="passkey_register"),
    path("security/passkeys/<int:pk>/remove/", views.passkey_remove, name="passkey_remove"),
]
