from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from standx_web import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("portfolio.urls")),
]
