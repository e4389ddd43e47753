"""The database session store, keeping only a hash of each session key.

Django's own store keeps the key itself (the cookie's value) in ``django_session``, so a copy of
the database would let its reader walk into every live session. Here the table's key column
holds ``blake2b(key)`` (40 hex characters, the column's width): the browser's cookie still
carries the key, and a stolen table holds nothing a browser can present.

Set with ``SESSION_ENGINE = "accounts.sessions.store"``. Sessions made by the stock store stop
matching, which signs everyone out once when this store is first deployed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.base_session import AbstractBaseSession
from django.contrib.sessions.models import Session
from django.utils import timezone


def stored_key(session_key: str) -> str:
    return hashlib.blake2b(
        session_key.encode(), digest_size=20, person=b"standx-session"
    ).hexdigest()


class SessionStore(db.SessionStore):
    # The stock store's lookups, by the stored (hashed) key.
    def _get_session_from_db(self) -> AbstractBaseSession | None:
        if self.session_key is None:
            return None
        try:
            return self.model.objects.get(
                session_key=stored_key(self.session_key), expire_date__gt=timezone.now()
            )
        except self.model.DoesNotExist:
            self._session_key = None
            return None

    async def _aget_session_from_db(self) -> AbstractBaseSession | None:
        if self.session_key is None:
            return None
        try:
            return await self.model.objects.aget(
                session_key=stored_key(self.session_key), expire_date__gt=timezone.now()
            )
        except self.model.DoesNotExist:
            self._session_key = None
            return None

    def exists(self, session_key: str) -> bool:
        return bool(super().exists(stored_key(session_key)))

    async def aexists(self, session_key: str) -> bool:
        return bool(await super().aexists(stored_key(session_key)))

    def create_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        instance = super().create_model_instance(data)
        instance.session_key = stored_key(instance.session_key)
        return instance

    async def acreate_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        instance = await super().acreate_model_instance(data)
        instance.session_key = stored_key(instance.session_key)
        return instance

    def delete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            Session.objects.filter(session_key=stored_key(key)).delete()

    async def adelete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            await Session.objects.filter(session_key=stored_key(key)).adelete()

    def cycle_key(self) -> None:
        old = self.session_key
        super().cycle_key()
        if old is not None and self.session_key is not None:
            # The session row got a new key (a sign-in, a password change): the list of
            # signed-in sessions follows it.
            from accounts.sessions.models import UserSession

            UserSession.objects.filter(key_hash=stored_key(old)).update(
                key_hash=stored_key(self.session_key)
            )

    async def acycle_key(self) -> None:
        old = self.session_key
        await super().acycle_key()
        if old is not None and self.session_key is not None:
            from accounts.sessions.models import UserSession

            await UserSession.objects.filter(key_hash=stored_key(old)).aupdate(
                key_hash=stored_key(self.session_key)
            )
