"""A simulated PerpEx: the venue's API as our client assumes it, so tests and the demo run end to
end without an account. It imports nothing from ``perpex/`` (nor from StandX's packages), so a
misreading of the venue cannot hide in both.

Modules: ``http_api`` (REST under ``/api/v1``, the shapes), ``ws`` (the WebSocket at ``/ws`` and
``/``), ``engine`` (orders, fills, margin, funding, liquidation rules), ``margin`` (the arithmetic),
``markets`` (listed markets and prices), ``keys`` (JWT API keys), ``limits`` (120/min per key),
``faults``, ``control`` (``/sim/``), ``scenarios`` (``--scenario demo``).
"""
