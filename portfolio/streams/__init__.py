"""Account streams: each linked account's pushed changes, stored as they happen.

``leases`` partitions the accounts across any number of workers (Postgres rows claimed with a
conditional UPDATE); ``apply`` stores a batch of events through the sync's own upserts;
``worker`` holds the streams of one process; ``freshness`` says how old each account's data is
and where it came from.
"""
