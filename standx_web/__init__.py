"""StandX Portfolio: the Django project."""

from __future__ import annotations

from standx_web.celery_app import app as celery_app

__all__ = ["celery_app"]
