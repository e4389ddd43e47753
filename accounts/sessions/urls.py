from __future__ import annotations

from django.urls import path

from accounts.sessions import views

urlpatterns = [
    path("sessions/", views.session_list, name="sessions"),
    path("sessions/<int:pk>/sign-out/", views.session_sign_out, name="session_sign_out"),
    path(
        "sessions/sign-out-others/", views.sessions_sign_out_others, name="sessions_sign_out_others"
    ),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
]
