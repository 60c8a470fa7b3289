"""``python -m callfleet`` runs the command line."""

from callfleet.cli import main

if __name__ == "__main__":
    main()
