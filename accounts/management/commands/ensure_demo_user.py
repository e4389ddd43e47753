from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import DEMO_USERNAME, user_ensure_demo


class Command(BaseCommand):
    help = "Create the demo/demo login (demo mode only; `make run` calls this)."

    def handle(self, *args: Any, **options: Any) -> None:
        user_ensure_demo()
        self.stdout.write(f"Demo login ready: {DEMO_USERNAME} / demo")
