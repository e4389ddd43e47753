from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import link_views, views

urlpatterns = [
    # Sign-in (with the second factor), security settings, sessions and the password page.
    path("", include("accounts.signin.urls")),
    path("", include("accounts.twofactor.urls")),
    path("", include("accounts.sessions.urls")),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("links/", views.account_list, name="account_list"),
    path("links/new/", views.link_new, name="link_new"),
    path("links/new/import/", views.link_import, name="link_import"),
    path("links/new/<slug:venue>/", link_views.link_pasted, name="link_pasted"),
    path("links/new/<slug:venue>/wallet/begin/", link_views.mint_begin, name="mint_begin"),
    path("links/new/<slug:venue>/wallet/complete/", link_views.mint_complete, name="mint_complete"),
    path("links/wallet/begin/", views.wallet_begin, name="wallet_begin"),
    path("links/wallet/complete/", views.wallet_complete, name="wallet_complete"),
    path("links/<int:pk>/unlink/", views.account_unlink, name="account_unlink"),
    path("links/<int:pk>/sync/", views.account_sync, name="account_sync"),
]
