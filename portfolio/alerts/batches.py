"""Alert evaluation after syncs, coalesced into batches.

Evaluating the rules of one account costs about ten queries, and evaluating five hundred costs
about the same ten queries, so a sync that stored new numbers does not evaluate inline: it adds
its account to a Redis set and, if no batch is scheduled yet, schedules one
(``portfolio.evaluate_synced`` on the urgent queue, :data:`COALESCE_S` later). The batch takes
the whole set and evaluates it in one pass. A sync waits for nothing, and an alert fires at most
half a second later than it would inline.

Losing a batch (a worker killed mid-batch) loses nothing durable: the next sync of the account
queues it again, and marks re-evaluate through the price stream meanwhile.
"""

from __future__ import annotations

import logging

from portfolio.alerts import evaluation as alerting
from portfolio.jobs import URGENT_QUEUE, queue_now
from standx_web.redis_client import redis_client

logger = logging.getLogger(__name__)
BATCH_TASK = "portfolio.evaluate_synced"

DUE_KEY = "standx:alerts:synced-accounts"
SCHEDULED_KEY = "standx:alerts:batch-scheduled"
COALESCE_S = 0.5
# A scheduled batch that never ran (no worker) stops blocking new ones after this long.
SCHEDULED_TTL_S = 30
CHUNK = 500


def alerts_evaluate_soon(account_id: int) -> None:
    """Queue one account for the next batched evaluation (its sync stored new numbers)."""
    client = redis_client()
    pipe = client.pipeline(transaction=False)
    pipe.sadd(DUE_KEY, account_id)
    pipe.set(SCHEDULED_KEY, "1", nx=True, ex=SCHEDULED_TTL_S)
    _, first = pipe.execute()
    if not first:
        return  # a batch is already scheduled and will take this account too
    try:
        queue_now(BATCH_TASK, queue=URGENT_QUEUE, countdown=COALESCE_S, expires=60)
    except Exception:  # the broker is down: evaluate here rather than not at all
        logger.exception("could not schedule an alert batch; evaluating inline")
        alerts_evaluate_queued()


def alerts_evaluate_queued() -> int:
    """Evaluate every queued account in one pass; returns the notifications made."""
    client = redis_client()
    # First free the schedule, then take the set: an account added after the take schedules a
    # batch of its own, so none is left waiting.
    client.delete(SCHEDULED_KEY)
    taken: list[str] = client.spop(DUE_KEY, 1_000_000) or []  # type: ignore[assignment]
    ids = sorted(int(raw) for raw in taken)
    sent = 0
    for start in range(0, len(ids), CHUNK):
        sent += alerting.alerts_evaluate(ids[start : start + CHUNK])
    return sent
