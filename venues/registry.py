"""The venue adapters by key: the one place that knows which venues exist."""

from __future__ import annotations

from venues import ocx, perpex, standx
from venues.base import AccountAdapter, VenueAdapter

_ADAPTERS: dict[str, VenueAdapter] = {
    standx.KEY: standx.ADAPTER,
    perpex.KEY: perpex.ADAPTER,
    ocx.KEY: ocx.ADAPTER,
}


def adapter(key: str) -> VenueAdapter:
    try:
        return _ADAPTERS[key]
    except KeyError:
        raise LookupError(f"no venue {key!r}; known: {', '.join(sorted(_ADAPTERS))}") from None


def account_adapter(key: str) -> AccountAdapter:
    """The adapter of a venue whose accounts can be linked and read."""
    found = adapter(key)
    if not isinstance(found, AccountAdapter):
        raise LookupError(f"{found.name} accounts cannot be linked yet")
    return found


def known() -> list[str]:
    return sorted(_ADAPTERS)
