from __future__ import annotations

from django.urls import path

from accounts.signin import views

urlpatterns = [
    path("login/", views.login_page, name="login"),
    path("login/second-factor/", views.second_factor_page, name="signin_second_factor"),
    path("login/email/", views.email_link_request, name="signin_email_link"),
    path("login/email/<str:token>/", views.email_link_open, name="signin_link_open"),
    path("passkeys/sign/options/", views.passkey_options, name="passkey_sign_options"),
    path("passkeys/sign/", views.passkey_sign, name="passkey_sign"),
]
