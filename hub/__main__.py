"""``python -m hub`` is the ``cityhub`` command."""

from hub.cli import main

main()
