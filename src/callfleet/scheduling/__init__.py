"""Scheduling: calling hours, retry policy and rate limits (pure), and the
dispatcher built on them."""
