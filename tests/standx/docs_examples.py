"""Response bodies exactly as StandX's docs show them (shared/reference/standx-perps-http.md)."""

from __future__ import annotations

from typing import Any

ORDER: dict[str, Any] = {
    "avail_locked": "3.071880000",
    "cl_ord_id": "01K2BK4ZKQE0C308SRD39P8N9Z",
    "closed_block": -1,
    "created_at": "2025-08-11T03:35:25.559151Z",
    "created_block": -1,
    "fill_avg_price": "0",
    "fill_qty": "0",
    "id": 1820682,
    "leverage": "10",
    "liq_id": 0,
    "margin": "0",
    "order_type": "limit",
    "payload": None,
    "position_id": 15,
    "price": "121900.00",
    "qty": "0.060",
    "reduce_only": False,
    "remark": "",
    "side": "sell",
    "source": "user",
    "status": "open",
    "symbol": "BTC-USD",
    "time_in_force": "gtc",
    "updated_at": "2025-08-11T03:35:25.559151Z",
    "user": "bsc_0x...",
}
ORDERS_PAGE: dict[str, Any] = {"page_size": 1, "result": [{**ORDER, "status": "new"}], "total": 1}
TRADES_PAGE: dict[str, Any] = {
    "page_size": 1,
    "result": [
        {
            "created_at": "2025-08-11T03:36:19.352620Z",
            "fee_asset": "DUSD",
            "fee_qty": "0.121900",
            "id": 409870,
            "order_id": 1820682,
            "pnl": "1.62040",
            "price": "121900",
            "qty": "0.01",
            "side": "sell",
            "symbol": "BTC-USD",
            "updated_at": "2025-08-11T03:36:19.352620Z",
            "user": "bsc_0x...",
            "value": "1219.00",
        }
    ],
    "total": 1,
}
POSITION_CONFIG: dict[str, Any] = {"symbol": "BTC-USD", "leverage": 10, "margin_mode": "cross"}
POSITIONS: list[dict[str, Any]] = [
    {
        "bankruptcy_price": "109608.01",
        "created_at": "2025-08-10T09:05:50.265265Z",
        "entry_price": "121737.96",
        "entry_value": "114433.68240",
        "holding_margin": "11443.3682400",
        "id": 15,
        "initial_margin": "11443.36824",
        "leverage": "10",
        "liq_price": "112373.50",
        "maint_margin": "2860.30367500",
        "margin_asset": "DUSD",
        "margin_mode": "isolated",
        "mark_price": "121715.05",
        "mmr": "3.993223845366698695025800014",
        "position_value": "114412.14700",
        "qty": "0.940",
        "realized_pnl": "31.61532",
        "status": "open",
        "symbol": "BTC-USD",
        "time": "2025-08-11T03:41:40.922818Z",
        "updated_at": "2025-08-10T09:05:50.265265Z",
        "upnl": "-21.53540",
        "user": "bsc_0x...",
    }
]
BALANCE: dict[str, Any] = {
    "isolated_balance": "11443.3682400",
    "isolated_upnl": "-21.53540",
    "cross_balance": "1088575.259316737",
    "cross_margin": "2860.30367500",
    "cross_upnl": "31.61532",
    "locked": "0.000000000",
    "cross_available": "1085746.571",
    "balance": "1100018.627556737",
    "upnl": "10.07992",
    "equity": "1100028.707476657",
    "pnl_freeze": "31.61532",
}
SYMBOL_INFO: list[dict[str, Any]] = [
    {
        "base_asset": "BTC",
        "base_decimals": 9,
        "created_at": "2025-07-10T05:15:32.089568Z",
        "def_leverage": "10",
        "depth_ticks": "0.01,0.1,1",
        "enabled": True,
        "maker_fee": "0.0001",
        "max_leverage": "20",
        "max_open_orders": "100",
        "max_order_qty": "100",
        "max_position_size": "1000",
        "min_order_qty": "0.001",
        "price_cap_ratio": "0.3",
        "price_floor_ratio": "0.3",
        "price_tick_decimals": 2,
        "qty_tick_decimals": 3,
        "quote_asset": "DUSD",
        "quote_decimals": 9,
        "symbol": "BTC-USD",
        "taker_fee": "0.0004",
        "updated_at": "2025-07-10T05:15:32.089568Z",
    }
]
SYMBOL_MARKET: dict[str, Any] = {
    "base": "BTC",
    "funding_rate": "0.00010000",
    "high_price_24h": "122164.08",
    "index_price": "121601.158461",
    "last_price": "121599.94",
    "low_price_24h": "114098.44",
    "mark_price": "121602.43",
    "mid_price": "121599.99",
    "next_funding_time": "2025-08-11T08:00:00Z",
    "open_interest": "15.948",
    "quote": "DUSD",
    "spread": ["121599.94", "121600.04"],
    "symbol": "BTC-USD",
    "time": "2025-08-11T03:44:40.922233Z",
    "volume_24h": "9030.51800000000002509",
}
SYMBOL_PRICE: dict[str, Any] = {
    "base": "BTC",
    "index_price": "121601.158461",
    "last_price": "121599.94",
    "mark_price": "121602.43",
    "mid_price": "121599.99",
    "quote": "DUSD",
    "spread_ask": "121600.04",
    "spread_bid": "121599.94",
    "symbol": "BTC-USD",
    "time": "2025-08-11T03:44:40.922233Z",
}
DEPTH_BOOK: dict[str, Any] = {
    "asks": [["121896.11", "0.96"], ["121895.81", "0.843"]],
    "bids": [["121884.01", "0.001"], ["121884.31", "0.001"]],
    "symbol": "BTC-USD",
}
RECENT_TRADES: list[dict[str, Any]] = [
    {
        "is_buyer_taker": True,
        "price": "121720.18",
        "qty": "0.01",
        "quote_qty": "1217.2018",
        "symbol": "BTC-USD",
        "time": "2025-08-11T03:48:47.086505Z",
    }
]
FUNDING_RATES: list[dict[str, Any]] = [
    {
        "id": 1,
        "symbol": "BTC-USD",
        "funding_rate": "0.0001",
        "index_price": "121601.158461",
        "mark_price": "121602.43",
        "premium": "0.0001",
        "time": "2025-08-11T03:48:47.086505Z",
        "created_at": "2025-08-11T03:48:47.086505Z",
        "updated_at": "2025-08-11T03:48:47.086505Z",
    }
]
KLINES: dict[str, Any] = {
    "s": "ok",
    "t": [1754897028, 1754897031],
    "c": [121897.95, 121903.04],
    "o": [121896.02, 121898.05],
    "h": [121897.95, 121903.15],
    "l": [121895.92, 121898.05],
    "v": [0.09, 10.542],
}
ACTION: dict[str, Any] = {"code": 0, "message": "success", "request_id": "xxx-xxx-xxx"}
