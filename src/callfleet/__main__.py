"""``python -m callfleet`` runs the command line."""

from callfleet.cli import main

main()
