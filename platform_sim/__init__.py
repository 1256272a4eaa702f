"""A simulator of the national medical-insurance platform, run as its own service.

Its own process, its own SQLite database, its own persons, registrations,
settlements and fund rules (a catalogue with per-item classes, self-pay ratios
and price ceilings, a fund ratio, annual caps, lapsed insurance), so it can
disagree with the clinic's system like the real platform; and an admin
endpoint that makes it slow, refuse, go silent, or settle and lose the answer.
It speaks the envelope and transactions of SPEC §9 at ``POST /``.
"""
