"""Cross-venue exposure: the net position per asset across venues and accounts. Pure.

Every position is a *leg* on its asset (the instrument's underlying): BTC long on StandX and BTC
short on PerpEx are two legs of one BTC exposure. Per asset:

- gross notional = the sum of the legs' notionals; net notional = longs less shorts;
- net quantity in the asset's units (quantity x contract size), and net *delta*, where an option
  counts its quantity times its delta (an option without a delta is left out and said so);
- **hedged** when the asset has long and short legs on more than one venue or account; the hedge
  ratio is the smaller side over the larger;
- the leg that **breaks the hedge first**: the one nearest its liquidation (smallest distance),
  because when it goes the other side stands alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Leg:
    asset: str
    venue: str
    account: str  # the account's label
    symbol: str
    qty: Decimal  # signed contracts: negative is short
    contract_size: Decimal  # units of the asset per contract
    mark: Decimal
    distance_pct: Decimal | None = None  # to liquidation, percent of the mark
    delta: Decimal | None = Decimal(1)  # per unit of the asset: 1 for perps and futures

    @property
    def units(self) -> Decimal:
        return self.qty * self.contract_size

    @property
    def notional(self) -> Decimal:
        """Signed: positive long, negative short."""
        return self.units * self.mark


@dataclass(frozen=True)
class AssetExposure:
    asset: str
    legs: tuple[Leg, ...]
    long_notional: Decimal
    short_notional: Decimal  # positive
    net_units: Decimal
    net_delta: Decimal  # in units of the asset, options delta-weighted
    delta_missing: tuple[str, ...]  # symbols left out of the delta (no delta known)
    hedged: bool
    breaks_first: Leg | None  # of a hedge: the leg nearest its liquidation

    @property
    def gross_notional(self) -> Decimal:
        return self.long_notional + self.short_notional

    @property
    def net_notional(self) -> Decimal:
        return self.long_notional - self.short_notional

    @property
    def hedge_ratio_pct(self) -> Decimal | None:
        big = max(self.long_notional, self.short_notional)
        return min(self.long_notional, self.short_notional) / big * HUNDRED if big else None

    @property
    def venues(self) -> tuple[str, ...]:
        return tuple(sorted({leg.venue for leg in self.legs}))


def asset_exposure(asset: str, legs: Iterable[Leg]) -> AssetExposure:
    items = tuple(sorted(legs, key=lambda leg: (leg.venue, leg.account, leg.symbol)))
    longs = sum((leg.notional for leg in items if leg.qty > 0), ZERO)
    shorts = -sum((leg.notional for leg in items if leg.qty < 0), ZERO)
    missing = tuple(leg.symbol for leg in items if leg.delta is None)
    delta = sum((leg.units * leg.delta for leg in items if leg.delta is not None), ZERO)
    sides = {leg.qty > 0 for leg in items if leg.qty}
    places = {(leg.venue, leg.account) for leg in items}
    hedged = len(sides) == 2 and len(places) > 1
    near = [leg for leg in items if leg.distance_pct is not None]
    breaks = min(near, key=lambda leg: leg.distance_pct or ZERO) if hedged and near else None
    return AssetExposure(
        asset=asset,
        legs=items,
        long_notional=longs,
        short_notional=shorts,
        net_units=sum((leg.units for leg in items), ZERO),
        net_delta=delta,
        delta_missing=missing,
        hedged=hedged,
        breaks_first=breaks,
    )


def exposures(legs: Iterable[Leg]) -> list[AssetExposure]:
    """One exposure per asset, the largest gross notional first."""
    by_asset: dict[str, list[Leg]] = defaultdict(list)
    for leg in legs:
        by_asset[leg.asset].append(leg)
    found = [asset_exposure(asset, items) for asset, items in by_asset.items()]
    return sorted(found, key=lambda e: (-e.gross_notional, e.asset))


def asset_of(symbol: str, underlying: str = "", base_asset: str = "") -> str:
    """The asset a market is on: its underlying, else its base asset, else the symbol's first
    part ("BTC-USD" -> "BTC")."""
    return underlying or base_asset or symbol.split("-")[0].split("_")[0].upper()


@dataclass(frozen=True)
class Share:
    name: str  # the asset or the venue
    gross: Decimal  # its legs' gross notional
    share_pct: Decimal  # of the book's gross notional
    heat_pct: Decimal | None  # its gross notional over the portfolio's equity (None: no equity)


@dataclass(frozen=True)
class Concentration:
    """How concentrated the book is: the Herfindahl-Hirschman index of the gross notional's
    shares, per asset and per venue (1 = everything in one, 1/n = spread evenly over n)."""

    asset_index: Decimal
    venue_index: Decimal
    assets: tuple[Share, ...]  # largest first
    venues: tuple[Share, ...]

    @property
    def equal_assets(self) -> Decimal:
        """As concentrated as this many assets of equal size (the index's inverse)."""
        return 1 / self.asset_index


def concentration(legs: Iterable[Leg], equity: Decimal) -> Concentration | None:
    """The book's concentration and heat (None: nothing held)."""
    items = list(legs)
    total = sum((abs(leg.notional) for leg in items), ZERO)
    if not total:
        return None

    def shares(name_of: Callable[[Leg], str]) -> tuple[Share, ...]:
        gross: dict[str, Decimal] = defaultdict(Decimal)
        for leg in items:
            gross[name_of(leg)] += abs(leg.notional)
        found = (
            Share(name, g, g / total * HUNDRED, g / equity * HUNDRED if equity > 0 else None)
            for name, g in gross.items()
        )
        return tuple(sorted(found, key=lambda s: (-s.gross, s.name)))

    def index(found: tuple[Share, ...]) -> Decimal:
        return sum(((s.share_pct / HUNDRED) ** 2 for s in found), ZERO)

    assets, venues = shares(lambda leg: leg.asset), shares(lambda leg: leg.venue)
    return Concentration(index(assets), index(venues), assets, venues)
