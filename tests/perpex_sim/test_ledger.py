"""After random trading with 20 % of requests failing, what the client reads equals the ledger."""

from __future__ import annotations

import random
from decimal import Decimal

from perpex import errors
from perpex.keys import ApiKey
from perpex.ratelimit import NoRateLimit
from perpex.rest import OrderRequest, PerpExClient
from tests.perpex_sim.helpers import SimControl

SYMBOLS = {
    "BTC-USD": ("0.001", Decimal(1)),
    "ETH-USD": ("0.05", Decimal("0.1")),
    "SOL-USD": ("1", Decimal("0.01")),
}


def random_order(rng: random.Random, sim: SimControl, n: int) -> OrderRequest:
    symbol = rng.choice(sorted(SYMBOLS))
    lot, tick = SYMBOLS[symbol]
    side = rng.choice(("buy", "sell"))
    quantity = Decimal(lot) * rng.randint(1, 3)
    client_id = f"ledger-{n}"
    if rng.random() < 0.5:
        return OrderRequest(symbol, side, "market", quantity, client_order_id=client_id)
    mark = Decimal(sim.mark(symbol))
    offset = Decimal(rng.choice((-2, -1, 1, 2))) / 1000
    price = (mark * (1 + offset)).quantize(tick)
    return OrderRequest(symbol, side, "limit", quantity, price, client_order_id=client_id)


def test_the_fills_and_balance_the_client_reads_equal_the_ledger_after_faults(
    sim: SimControl,
) -> None:
    creds = sim.account(deposit="100000")
    client = PerpExClient(
        ApiKey(creds["api_key"]),
        api_url=sim.base_url,
        rate_limiter=NoRateLimit(),
        max_backoff=0.02,
        max_retries=6,
    )
    rng = random.Random(20)
    sent: set[str] = set()
    placed: list[str] = []
    refused = 0
    sim.faults(endpoint="*", error_rate=0.1, after_rate=0.1, malformed_rate=0.02, status=503)
    for n in range(60):
        roll = rng.random()
        try:
            if roll < 0.55:
                order = random_order(rng, sim, n)
                sent.add(order.client_order_id or "")
                placed.append(client.place_order(order).id)
            elif roll < 0.7:
                batch = [random_order(rng, sim, n * 100 + i) for i in range(3)]
                sent.update(o.client_order_id or "" for o in batch)
                placed += [r.order.id for r in client.place_batch(batch) if r.order]
            elif roll < 0.8 and placed:
                client.cancel_order(rng.choice(placed))
            elif roll < 0.9:
                symbol = rng.choice(sorted(SYMBOLS))
                moved = Decimal(sim.mark(symbol)) * (1 + Decimal(rng.randint(-3, 3)) / 1000)
                sim.price(symbol, str(moved.quantize(SYMBOLS[symbol][1])))
            else:
                sim.call("POST", "/sim/funding", {"rate": "0.0001"})
        except errors.PerpExError:
            refused += 1
    sim.call("DELETE", "/sim/faults")

    ledger = sim.ledger(creds["account_id"])
    fills = list(client.iter_trades(page_size=25))
    account = client.account()

    assert refused > 5  # the faults did bite
    assert ledger["fills"]
    seen = {(f.id, f.order_id, f.price, f.quantity, f.fee) for f in fills}
    recorded = {
        (f["id"], f["orderId"], Decimal(f["price"]), Decimal(f["quantity"]), Decimal(f["fee"]))
        for f in ledger["fills"]
    }
    assert seen == recorded
    assert {f.client_order_id for f in fills} <= sent  # nothing we did not send was traded
    total = sum((Decimal(c["amount"]) for c in ledger["balance_changes"]), Decimal(0))
    assert total == Decimal(ledger["balance"]) == account.balances[0].total
    assert sum(1 for c in ledger["balance_changes"] if c["kind"] == "funding") == sum(
        1 for _ in ledger["funding"]
    )
