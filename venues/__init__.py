"""The venue layer: what the portfolio needs from an exchange, in one shape for every venue.

Django-free. ``base`` holds the normalized records and the capability flags, ``errors`` the one
error tree, ``registry`` the adapters by key; each adapter (``venues.standx``) wraps its client
library and is the only place that speaks the venue's protocol to the rest of the project.
"""
