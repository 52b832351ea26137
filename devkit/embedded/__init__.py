"""Private PostgreSQL and Mosquitto instances for the demo and the tests.

Each runs as a child process in the foreground (never daemonised), on a free
loopback port, with its files under a state directory; ``stop()`` ends it and
the child is also told to die with its parent (PR_SET_PDEATHSIG), so nothing
is left running after Ctrl-C, a failed test or a killed parent.
"""

from core.net import free_port
from core.programs import ServiceError
from devkit.embedded.broker import EmbeddedBroker
from devkit.embedded.postgres import EmbeddedPostgres

__all__ = ["EmbeddedBroker", "EmbeddedPostgres", "ServiceError", "free_port"]
