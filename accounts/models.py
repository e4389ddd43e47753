from __future__ import annotations

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A dashboard login. Linked StandX accounts hang off it."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
