"""A double-entry ledger: every movement of money is one posting whose legs sum to zero.

Leg accounts are ``"<userId>:<bucket>"`` for a user's four buckets (wallet, perps, options,
spot) and ``"venue:<name>"`` / ``"chain"`` for the other side: fees, the counterparty of
trading PnL, funding, the insurance fund, and the chain for deposits and withdrawals. A
bucket's balance is, by construction, the sum of its legs; :meth:`Ledger.balance` recomputes it
so tests can compare it with what the API reports.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ocx_sim.clock import iso
from ocx_sim.money import ZERO, fmt

BUCKETS = ("wallet", "perps", "options", "spot")
CHAIN = "chain"
FEES = "venue:fees"
COUNTERPARTY = "venue:counterparty"
FUNDING = "venue:funding"
INSURANCE = "venue:insurance"


@dataclass(frozen=True)
class Posting:
    id: str
    time: datetime
    kind: str  # deposit, withdraw, transfer, fee, realized_pnl, funding, settlement, ...
    ref: str  # the order, fill, transfer or settlement it belongs to
    legs: tuple[tuple[str, Decimal], ...]

    def json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "time": iso(self.time),
            "kind": self.kind,
            "ref": self.ref,
            "legs": [{"account": a, "amount": fmt(v)} for a, v in self.legs],
        }


class Ledger:
    def __init__(self) -> None:
        self.postings: list[Posting] = []
        self._balances: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
        self._by_user: defaultdict[str, list[Posting]] = defaultdict(list)

    def post(
        self, posting_id: str, time: datetime, kind: str, ref: str, *legs: tuple[str, Decimal]
    ) -> Posting:
        if sum((amount for _, amount in legs), ZERO) != 0:
            raise AssertionError(f"unbalanced posting {kind}: {legs}")
        posting = Posting(posting_id, time, kind, ref, tuple(legs))
        self.postings.append(posting)
        users = set()
        for account, amount in legs:
            self._balances[account] += amount
            if ":" in account and not account.startswith("venue:"):
                users.add(account.split(":", 1)[0])
        for user in users:
            self._by_user[user].append(posting)
        return posting

    def balance(self, account: str) -> Decimal:
        return self._balances[account]

    def recomputed(self, account: str) -> Decimal:
        """The balance summed afresh from the postings (not the running total)."""
        return sum((amount for p in self.postings for a, amount in p.legs if a == account), ZERO)

    def of_user(self, user_id: str) -> list[Posting]:
        return self._by_user[user_id]

    def total(self) -> Decimal:
        return sum(self._balances.values(), ZERO)
