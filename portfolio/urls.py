from __future__ import annotations

from django.urls import path

from portfolio import views

app_name = "portfolio"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("alerts/", views.alert_history, name="alerts"),
    path("alerts/rules/", views.alert_rules, name="alert_rules"),
    path("alerts/snooze/", views.alert_snooze, name="alert_snooze"),
    path("alerts/<int:pk>/ack/", views.alert_ack, name="alert_ack"),
]
