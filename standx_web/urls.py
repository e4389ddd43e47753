from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from accounts.signin.views import admin_login
from standx_web import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    # The admin signs in through the site's login: the same throttles and second factor.
    path("admin/login/", admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("portfolio.urls")),
]
