from __future__ import annotations

from django.urls import path

from portfolio import history_views, position_views, views

app_name = "portfolio"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("equity.json", position_views.equity_data, name="equity_data"),
    path("positions/", position_views.positions, name="positions"),
    path("positions/stress/", position_views.positions_stress, name="positions_stress"),
    path("orders/", history_views.orders, name="orders"),
    path("orders.csv", history_views.orders_csv, name="orders_csv"),
    path("trades/", history_views.trades, name="trades"),
    path("trades.csv", history_views.trades_csv, name="trades_csv"),
    path("symbols/<str:symbol>/", position_views.symbol_detail, name="symbol"),
    path("symbols/<str:symbol>/candles.json", position_views.symbol_candles, name="symbol_candles"),
    path("alerts/", views.alert_history, name="alerts"),
    path("alerts/rules/", views.alert_rules, name="alert_rules"),
    path("alerts/snooze/", views.alert_snooze, name="alert_snooze"),
    path("alerts/<int:pk>/ack/", views.alert_ack, name="alert_ack"),
]
