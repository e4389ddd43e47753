"""Plumbing every venue client shares (Django-free, speaks no venue's protocol): the request
budget's token buckets, local or shared through Redis."""
