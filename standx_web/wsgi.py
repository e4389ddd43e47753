"""WSGI entry point (management tools only; the site is served by daphne over ASGI)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "standx_web.settings")

application = get_wsgi_application()
