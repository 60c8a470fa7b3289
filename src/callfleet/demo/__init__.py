"""``callfleet demo`` and ``callfleet run``: a whole campaign end to end."""
