"""The price stream: one long-running process holding each venue's mark feed
(:class:`venues.base.MarkFeed`) for every symbol the venue lists and every symbol an account on
it holds (a first order in a symbol nobody holds needs a mark too); one
:class:`PriceStreamRunner` per venue, its marks stored and evaluated as that venue's only (a
mark of SOL-USD on one venue never touches a SOL-USD position on another).

Each new mark is stored, the affected positions re-priced and their accounts' alert rules
evaluated (:func:`portfolio.alerts.evaluation.alerts_evaluate_symbol`) between polls. Prices
are coalesced per symbol: while one is being processed, newer ones replace each other, so a
burst never builds a backlog and the latest mark is always the next one handled. An unchanged
mark is rewritten at most every ``write_every`` seconds.

The feed reconnects by itself; when a held symbol has had no price for ``stale_after``
seconds, it is read over the venue's public REST instead (only held ones: the order form reads
any other symbol's mark on demand when its stored one is stale). A heartbeat in Redis tells
``/healthz`` the process is alive, and each runner reports its venue's feed there (symbols
watched, the last mark's time).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from portfolio.alerts import evaluation as alerting
from portfolio.health import PRICESTREAM_HEARTBEAT_KEY, record_feed, record_heartbeat
from portfolio.market import store as market
from venues.base import FeedNotice, Mark, MarkFeed, PublicSession
from venues.errors import VenueError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class PriceStreamRunner:
    def __init__(
        self,
        venue: str,
        feed: MarkFeed,
        public: Callable[[], PublicSession],
        *,
        refresh_every: float = 15.0,
        stale_after: float = 10.0,
        heartbeat_every: float = 5.0,
        write_every: float = 1.0,
    ) -> None:
        # One venue's feed: its marks are stored and evaluated as that venue's only.
        self.venue = venue
        self.feed = feed
        self.public = public
        self.refresh_every = refresh_every
        self.stale_after = stale_after
        self.heartbeat_every = heartbeat_every
        self.write_every = write_every
        self.symbols: set[str] = set()  # watched: listed or held
        self.held: set[str] = set()
        self.last_seen: dict[str, float] = {}
        self.last_written: dict[str, float] = {}
        self.last_mark: dict[str, Decimal | None] = {}
        self.latest: dict[str, tuple[Decimal | None, Decimal | None, Decimal | None]] = {}
        self.wakeup = asyncio.Event()
        self._in_flight: set[asyncio.Future[Any]] = set()
        self.started = time.time()
        self.last_mark_at: float | None = None  # wall-clock time of the last mark, for /healthz

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``sync_to_async(fn)(*args)`` that a stop lets finish.

        Cancelling a ``sync_to_async`` call leaves its thread running; at a stop that thread
        would outlive the event loop and fail halfway (its commit hooks publish through
        ``async_to_sync``, which cannot start a loop once the interpreter is exiting). So the
        call is shielded, and :meth:`run` waits for what is in flight before it returns.
        """
        future = asyncio.ensure_future(sync_to_async(fn)(*args))
        self._in_flight.add(future)
        future.add_done_callback(self._in_flight.discard)
        return await asyncio.shield(future)

    async def run(self, stop: asyncio.Event) -> None:
        await self.refresh_symbols()
        tasks = [
            asyncio.create_task(self._consume()),
            asyncio.create_task(self._process()),
            asyncio.create_task(self._every(self.refresh_every, self.refresh_symbols)),
            asyncio.create_task(self._every(self.heartbeat_every, self._heartbeat_and_fallback)),
        ]
        await stop.wait()
        await self.feed.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def refresh_symbols(self) -> None:
        self.held = await self._in_thread(market.held_symbols, self.venue)
        watched = self.held | await self._in_thread(market.listed_symbols, self.venue)
        for symbol in sorted(watched - self.symbols):
            self.feed.watch(symbol)
            self.last_seen.setdefault(symbol, time.monotonic())
            logger.info("price stream: watching %s", symbol)
        self.symbols |= watched

    async def _every(self, seconds: float, job: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                logger.exception("price stream: periodic job failed")

    async def _consume(self) -> None:
        async for event in self.feed.events():
            if isinstance(event, FeedNotice):
                # Reconnected, a refused symbol, a malformed message: the rest carries on.
                logger.log(
                    logging.INFO if event.kind == "reconnected" else logging.WARNING,
                    "price stream: %s",
                    event.text,
                )
                continue
            await self.on_mark(event)

    async def on_mark(self, mark: Mark) -> None:
        self.last_seen[mark.symbol] = time.monotonic()
        self.last_mark_at = time.time()
        self.latest[mark.symbol] = (mark.mark_price, mark.index_price, mark.last_price)
        self.wakeup.set()

    async def _process(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.latest:
                symbol = next(iter(self.latest))
                mark, index, last = self.latest.pop(symbol)
                now = time.monotonic()
                unchanged = mark == self.last_mark.get(symbol, object())
                if unchanged and now - self.last_written.get(symbol, 0.0) < self.write_every:
                    continue
                self.last_written[symbol] = now
                self.last_mark[symbol] = mark
                try:
                    await self._store(symbol, mark, index, last, "stream")
                except Exception:  # one bad write must not stop the stream
                    logger.exception("price stream: storing %s failed", symbol)

    async def _store(
        self,
        symbol: str,
        mark: Decimal | None,
        index: Decimal | None,
        last: Decimal | None,
        source: str,
    ) -> None:
        await self._in_thread(_store_and_evaluate, self.venue, symbol, mark, index, last, source)

    async def _heartbeat_and_fallback(self) -> None:
        now = time.monotonic()
        stale = [s for s in self.held if now - self.last_seen.get(s, 0.0) > self.stale_after]
        if stale:
            await self._in_thread(self._rest_fallback, stale)
        await self._in_thread(self._report)

    def _report(self) -> None:
        record_heartbeat(PRICESTREAM_HEARTBEAT_KEY)
        record_feed(
            self.venue,
            watching=len(self.symbols),
            last_mark=self.last_mark_at,
            started=self.started,
        )

    def _rest_fallback(self, symbols: list[str]) -> None:
        try:
            with self.public() as session:
                for symbol in symbols:
                    m = session.mark(symbol)
                    _store_and_evaluate(
                        self.venue, symbol, m.mark_price, m.index_price, m.last_price, "rest"
                    )
                    self.last_mark_at = time.time()
        except VenueError as exc:
            logger.warning("price stream: REST fallback failed: %s", exc)


def _store_and_evaluate(
    venue: str,
    symbol: str,
    mark: Decimal | None,
    index: Decimal | None,
    last: Decimal | None,
    source: str,
) -> None:
    market.mark_store(venue, symbol, mark=mark, index=index, last=last, source=source)
    if mark is not None:
        try:
            alerting.alerts_evaluate_symbol(venue, symbol)
        except Exception:  # the mark is stored; the next one evaluates again
            logger.exception("price stream: alert evaluation for %s failed", symbol)
