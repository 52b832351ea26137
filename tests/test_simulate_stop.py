"""A simulator whose broker has gone still stops on SIGTERM (supervisors rely on it).

Soak runs left `cityhub simulate` processes behind: with the broker killed, a simulator that
had reached its limit of unacknowledged publishes waited for an acknowledgement that could
not come, without looking at its stop signal, so the supervisor's SIGTERM never ended it.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from core.topics import ROOT
from devkit.embedded.broker import EmbeddedBroker
from devkit.embedded.process import spawn, tail
from devkit.fixtures.mqtt_probe import ProbeClient
from devkit.fixtures.wait import wait_for


def test_sigterm_ends_a_simulator_whose_broker_is_gone(private_broker: EmbeddedBroker,
                                                       tmp_path: Path) -> None:
    log = tmp_path / "simulate.log"
    probe = ProbeClient(private_broker.port, None, None)
    probe.subscribe(f"{ROOT}/#")
    proc = spawn([sys.executable, "-m", "hub", "simulate", "sensor", "--rate", "3000",
                  "--pack", "1", "--broker", private_broker.url], log)
    try:
        # Publishing (not only connected): the simulator is in its loop when the broker dies.
        assert probe.received(30) is not None, tail(log)
        probe.close()
        private_broker.stop(kill=True)
        # Three failed reconnects: over a second without a broker at 3,000 records/s, so
        # the simulator has reached its limit of unacknowledged publishes.
        wait_for(lambda: log.read_text(errors="replace").count("reconnect to") >= 3, 30,
                 lambda: tail(log))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)  # a deadline: the bounded drain is 5 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, tail(log)
    summary = json.loads(log.read_text().strip().splitlines()[-1])
    assert summary["records"] > 0
    assert summary["unconfirmed"] > 0  # the broker was gone: not everything was confirmed
    assert "ERROR" not in log.read_text(), tail(log)  # the unconfirmed are counted, not logged
