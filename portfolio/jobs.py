"""The one way services queue background work: by task name, after the transaction commits.

Services never import ``portfolio.tasks`` (tasks import services); a task queued before commit
could run before its rows exist, and one queued in a transaction that rolls back would act on
nothing. A broker that is down must not break the caller: the work's rows say what is owed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from standx_web.celery_app import app

logger = logging.getLogger(__name__)

# Accounts near liquidation have a queue (and a worker) of their own: see docker-compose.yml.
# Everything else that must not wait behind a backlog of syncs (alert batches, pushes) rides it.
URGENT_QUEUE = "sync_urgent"
DEFAULT_QUEUE = "celery"


def queue_now(
    task_name: str,
    *args: Any,
    queue: str = DEFAULT_QUEUE,
    countdown: float | None = None,
    expires: float | None = None,
) -> None:
    """Send ``task_name(*args)`` now; raises when the broker cannot take it (the caller knows
    what to do instead)."""
    app.send_task(task_name, args=args, queue=queue, countdown=countdown, expires=expires)


def queue_after_commit(task_name: str, *args: Any, queue: str = DEFAULT_QUEUE) -> None:
    """Send ``task_name(*args)`` (ids only, never secrets) once the current transaction commits
    (at once outside a transaction)."""

    def send() -> None:
        try:
            queue_now(task_name, *args, queue=queue)
        except Exception:  # the broker down: logged; the rows stay queued and visible
            logger.exception("could not queue %s%r", task_name, args)

    transaction.on_commit(send)
