from __future__ import annotations

from django.urls import path

from portfolio.alerts import push_views
from portfolio.alerts import views as alert_views
from portfolio.dashboard import history_views, position_views, views
from portfolio.trading import views as trade_views

app_name = "portfolio"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("equity.json", position_views.equity_data, name="equity_data"),
    path("positions/", position_views.positions, name="positions"),
    path("positions/stress/", position_views.positions_stress, name="positions_stress"),
    path("exposure/", position_views.exposure, name="exposure"),
    path("orders/", history_views.orders, name="orders"),
    path("orders.csv", history_views.orders_csv, name="orders_csv"),
    path("trades/", history_views.trades, name="trades"),
    path("trades.csv", history_views.trades_csv, name="trades_csv"),
    # Venue-qualified: BTC-USD on one venue is another market than BTC-USD on the next.
    path("symbols/<str:venue>/<str:symbol>/", position_views.symbol_detail, name="symbol"),
    path(
        "symbols/<str:venue>/<str:symbol>/candles.json",
        position_views.symbol_candles,
        name="symbol_candles",
    ),
    path("trade/", trade_views.order_new, name="order_new"),
    path("trade/kill-switch/", trade_views.kill_switch, name="kill_switch"),
    path("trade/adjust/", trade_views.position_adjust, name="position_adjust"),
    path("activity/", trade_views.activity, name="activity"),
    path(
        "positions/<int:account_id>/<str:symbol>/close/",
        trade_views.position_close,
        name="position_close",
    ),
    path(
        "positions/<int:account_id>/<str:symbol>/fix/",
        position_views.position_fix,
        name="position_fix",
    ),
    path(
        "orders/<int:account_id>/<str:order_id>/cancel/",
        trade_views.order_cancel,
        name="order_cancel",
    ),
    path(
        "orders/<int:account_id>/cancel-all/",
        trade_views.orders_cancel_all,
        name="orders_cancel_all",
    ),
    path("alerts/", alert_views.alert_history, name="alerts"),
    path("alerts/rules/", alert_views.alert_rules, name="alert_rules"),
    path("alerts/snooze/", alert_views.alert_snooze, name="alert_snooze"),
    path("alerts/<int:pk>/ack/", alert_views.alert_ack, name="alert_ack"),
    # The service worker and the manifest live at the root (contract 8).
    path("sw.js", push_views.service_worker, name="service_worker"),
    path("manifest.webmanifest", push_views.manifest, name="manifest"),
    path("push/subscriptions/", push_views.subscribe, name="push_subscribe"),
    path("push/subscriptions/renew/", push_views.renew, name="push_renew"),
    path("push/subscriptions/remove/", push_views.unsubscribe, name="push_unsubscribe"),
    path("settings/email/", alert_views.alert_email_set, name="email_set"),
    path("settings/email/verify/<str:token>/", alert_views.alert_email_verify, name="email_verify"),
    path("settings/devices/", push_views.devices, name="devices"),
    path("settings/devices/<int:pk>/remove/", push_views.device_remove, name="device_remove"),
    path("settings/devices/<int:pk>/test/", push_views.device_test, name="device_test"),
]
