"""A simulated OCX (perpetuals, dated futures, the wallet's buckets) for tests and demos.

Independent of the ``ocx`` client: it imports nothing from it, so a misreading of the API
cannot hide in both. Deterministic for a ``--seed`` (prices, wallets, ids' random parts), apart
from the wall clock. The simplifications are written where they live: the margin model in
``margin``, matching and fees in ``engine``, the streams in ``stream``, auth in ``auth``,
faults in ``faults``, the order-path limit in ``ratelimit``, the control API in ``control``.
"""
