"""One account-stream worker process: the streams of the accounts it holds a lease on.

An asyncio loop holds one authenticated stream per claimed account (the venue adapter's
:class:`venues.events.AccountStream`), queues each stream's events in delivery order, and
stores them in batches through :func:`portfolio.streams.apply.events_apply`, one batch at a
time. Whenever a stream cannot vouch for what it missed (its first connection, a reconnect, a
sequence gap, a malformed frame) the account's full REST read is requested; the dispatcher runs
it within the venue's budget. Every ``heartbeat_every`` seconds the worker renews its leases
(the connected streams' heartbeat with them), drops any taken over, claims free ones up to its
capacity and reports its load.

Database work runs in one thread beside the loop (``sync_to_async``), never inside it; no
transaction is ever open while a network call waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.utils import timezone

from accounts import crypto
from accounts.credentials import credentials_open
from accounts.models import ExchangeAccount
from portfolio import health
from portfolio.streams import apply, leases
from venues import errors as venue_errors
from venues import registry
from venues.base import Endpoints
from venues.events import AccountEvent, AccountEvents, AccountStream, StreamBreak

logger = logging.getLogger(__name__)
T = TypeVar("T")
AUTH_RETRY_S = 60.0  # a refused account is tried again this often (it is polled meanwhile)
AGE_SAMPLE = 100_000  # event-to-row ages kept for the figures (a reservoir)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Held:
    """One account's stream in this worker."""

    account_id: int
    stream: AccountStream
    secrets: dict[str, str] = field(repr=False)  # never in a log line or a traceback's repr
    task: asyncio.Task[None] | None = None
    lag_s: float = 0.0  # the last event's age on arrival (the venue's time to ours)
    # A (re)connection or a gap whose full read is not requested yet: not live until it is,
    # so the dispatcher never takes the stream's word for what it may have missed.
    break_pending: bool = False
    lag_seen: float = 0.0  # when it arrived (monotonic)


@dataclass
class Figures:
    """What the worker measured: events stored and their age from the venue's time to the
    commit (a reservoir sample), for the load report and the freshness bench."""

    events: int = 0
    ages: list[float] = field(default_factory=list)

    def note(self, ages: list[float]) -> None:
        for age in ages:
            self.events += 1
            if len(self.ages) < AGE_SAMPLE:
                self.ages.append(age)
            else:
                slot = random.randrange(self.events)  # noqa: S311 - sampling, not security
                if slot < AGE_SAMPLE:
                    self.ages[slot] = age


class AccountStreamsWorker:
    def __init__(
        self,
        name: str,
        *,
        capacity: int,
        heartbeat_every: float,
        ping_every: float,
        lag_after: float,
    ) -> None:
        self.name = name
        self.capacity = capacity
        self.heartbeat_every = heartbeat_every
        self.ping_every = ping_every
        self.lag_after = lag_after
        self.held: dict[int, Held] = {}
        self.pending: dict[int, list[AccountEvent]] = defaultdict(list)
        self.breaks: set[int] = set()
        self.wakeup = asyncio.Event()
        self.figures = Figures()
        self.started_at = timezone.now()
        self._in_flight: set[asyncio.Future[Any]] = set()
        self._beats = 0

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``sync_to_async(fn)(*args)`` that a stop lets finish (see the price stream)."""
        future = asyncio.ensure_future(sync_to_async(fn)(*args))
        self._in_flight.add(future)
        future.add_done_callback(self._in_flight.discard)
        return await asyncio.shield(future)

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [
            asyncio.create_task(self._store_loop()),
            asyncio.create_task(self._heartbeat_loop()),
        ]
        await stop.wait()
        for held in list(self.held.values()):
            await self._drop(held)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._in_thread(self._store_pending)
        await self._in_thread(leases.worker_forget, self.name)
        await self._in_thread(health.forget_stream_worker, self.name)

    # -- leases ---------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await self.heartbeat()
            except Exception:
                logger.exception("account streams: heartbeat failed")
            await asyncio.sleep(self.heartbeat_every)

    async def heartbeat(self) -> None:
        connected = [i for i, h in self.held.items() if h.stream.connected and not h.break_pending]
        room = self.capacity - len(self.held)
        kept, claimed = await self._in_thread(self._renew_and_claim, connected, room)
        for account_id in set(self.held) - kept:
            logger.info("account streams: account %s was taken over", account_id)
            await self._drop(self.held[account_id])
        for account_id, venue, endpoints, secrets in claimed:
            self._start(account_id, venue, endpoints, secrets)

    def _renew_and_claim(
        self, connected: list[int], room: int
    ) -> tuple[set[int], list[tuple[int, str, Endpoints, dict[str, str]]]]:
        close_old_connections()
        now = timezone.now()
        kept = leases.leases_renew(self.name, connected, now)
        if self._beats % 20 == 0:
            leases.leases_ensure()
            leases.workers_prune(now)
        self._beats += 1
        claimed = leases.leases_claim(self.name, room, now)
        loaded = self._load(claimed)
        unusable = set(claimed) - {row[0] for row in loaded}
        if unusable:
            leases.leases_release(self.name, unusable)
        now_held = (kept & set(self.held)) | {row[0] for row in loaded}
        load: dict[str, int] = {
            "accounts": len(now_held),
            "connected": len(connected),
            "lagging": self.lagging(),
            "capacity": self.capacity,
        }
        leases.worker_report(
            self.name, started_at=self.started_at, events=self.figures.events, now=now, **load
        )
        health.record_stream_worker(
            self.name,
            accounts=load["accounts"],
            connected=load["connected"],
            lagging=load["lagging"],
            capacity=self.capacity,
        )
        return kept, loaded

    def _load(self, account_ids: list[int]) -> list[tuple[int, str, Endpoints, dict[str, str]]]:
        """Each claimed account's venue, endpoints and secrets (an account whose secrets cannot
        be opened is given back: polling reports it)."""
        out = []
        for account in ExchangeAccount.objects.filter(pk__in=account_ids).prefetch_related(
            "credentials"
        ):
            try:
                secrets = credentials_open(account)
            except crypto.DecryptionError:
                logger.warning("account streams: credentials of %s unreadable", account.pk)
                continue
            out.append((account.pk, account.venue, Endpoints(dict(account.endpoints)), secrets))
        return out

    def _secrets_reload(self, account_id: int) -> dict[str, str] | None:
        account = ExchangeAccount.objects.filter(pk=account_id).first()
        if account is None:
            return None
        try:
            return credentials_open(account)
        except crypto.DecryptionError:
            return None

    def lagging(self) -> int:
        """Held streams that are not connected, or whose last event came late."""
        now = time.monotonic()
        return sum(
            1
            for h in self.held.values()
            if not h.stream.connected
            or (h.lag_s > self.lag_after and now - h.lag_seen < 10 * self.heartbeat_every)
        )

    # -- streams --------------------------------------------------------------------------

    def _start(
        self, account_id: int, venue: str, endpoints: Endpoints, secrets: dict[str, str]
    ) -> None:
        adapter = registry.adapter(venue)
        if not isinstance(adapter, AccountEvents):  # the claim only takes streamable venues
            return
        held = Held(account_id, stream=None, secrets=secrets)  # type: ignore[arg-type]

        def current() -> Mapping[str, str]:
            return held.secrets

        held.stream = adapter.account_stream(endpoints, current, ping_every=self.ping_every)
        held.task = asyncio.create_task(self._consume(held))
        self.held[account_id] = held

    async def _drop(self, held: Held) -> None:
        self.held.pop(held.account_id, None)
        await held.stream.close()
        if held.task is not None:
            held.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await held.task

    async def _consume(self, held: Held) -> None:
        while held.account_id in self.held:
            try:
                async for event in held.stream.events():
                    self._receive(held, event)
                return
            except venue_errors.AuthExpired:
                logger.warning("account streams: account %s refused; polled", held.account_id)
                self.breaks.add(held.account_id)  # its sync finds out and says so
                self.wakeup.set()
                await asyncio.sleep(AUTH_RETRY_S)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("account streams: stream of %s failed", held.account_id)
                await asyncio.sleep(self.ping_every)
            reloaded = await self._in_thread(self._secrets_reload, held.account_id)
            if reloaded is not None:
                held.secrets = reloaded

    def _receive(self, held: Held, event: AccountEvent) -> None:
        if isinstance(event, StreamBreak):
            logger.info("account streams: account %s: %s", held.account_id, event.reason)
            self.breaks.add(held.account_id)
            held.break_pending = True
            # The next connection uses the credentials as stored now (a re-link's new token).
            refresh = asyncio.ensure_future(self._refresh_secrets(held))
            self._in_flight.add(refresh)
            refresh.add_done_callback(self._in_flight.discard)
        else:
            self.pending[held.account_id].append(event)
            if event.at is not None:
                held.lag_s = time.time() - event.at.timestamp()
                held.lag_seen = time.monotonic()
        self.wakeup.set()

    async def _refresh_secrets(self, held: Held) -> None:
        reloaded = await self._in_thread(self._secrets_reload, held.account_id)
        if reloaded is not None:
            held.secrets = reloaded

    # -- storing --------------------------------------------------------------------------

    async def _store_loop(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            try:
                requested = await self._in_thread(self._store_pending)
            except Exception:
                # Their accounts' full reads are requested instead (kept for the next try).
                logger.exception("account streams: storing a batch failed")
                await asyncio.sleep(1.0)
                self.wakeup.set()
                continue
            for account_id in requested:
                held = self.held.get(account_id)
                if held is not None and account_id not in self.breaks:
                    held.break_pending = False

    def _store_pending(self) -> set[int]:
        """Store the queued events and request the full reads owed; returns the accounts whose
        full read was requested."""
        batch, self.pending = self.pending, defaultdict(list)
        breaks, self.breaks = self.breaks, set()
        now = timezone.now()
        try:
            if breaks:
                leases.reconcile_request(breaks, now)
                leases.streams_note_reconnects(breaks)
            if batch:
                apply.events_apply(batch, now)
        except Exception:
            self.breaks |= set(batch) | breaks
            raise
        done = time.time()
        self.figures.note(
            [
                done - e.at.timestamp()
                for events in batch.values()
                for e in events
                if not isinstance(e, StreamBreak) and e.at is not None
            ]
        )
        return breaks
