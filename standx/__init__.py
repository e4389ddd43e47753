"""StandX client library: auth, signing, REST, streams, rate limits, CLI.

Imports nothing from Django or the apps; everything else in the product talks to StandX through
it. Entry points: :class:`standx.rest.StandXClient`, :mod:`standx.auth`, :mod:`standx.stream`.
"""

from __future__ import annotations

from standx.errors import StandXError
from standx.rest import Credentials, Endpoints, StandXClient

__all__ = ["Credentials", "Endpoints", "StandXClient", "StandXError"]
