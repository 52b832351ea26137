"""The hub's ``/metrics``: what the alert rules need beyond the request path.

Free disk space, certificate expiry and the result of the last audit-chain verification,
read at scrape time (disks, certificates) or by a background verifier (the audit chain, whose
verification reads every entry and must not run inside a scrape).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from psycopg_pool import ConnectionPool

from hub.audit import chain
from hub.ops.config import OpsConfig

log = logging.getLogger(__name__)


def certificate_not_after(path: Path) -> float:
    """Expiry (Unix seconds) of the first certificate in a PEM file."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc.timestamp()


class AuditVerifier:
    """Verifies the whole audit chain every ``every`` seconds on its own thread."""

    def __init__(self, pool: ConnectionPool, every: float) -> None:
        self.pool, self.every = pool, every
        self.ok: bool | None = None
        self.entries = 0
        self.last_run = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        try:
            with self.pool.connection() as conn:
                result = chain.verify(conn)
        except Exception as exc:  # the database away: the result stays unknown, not failed
            log.warning("audit verification could not run: %s", type(exc).__name__)
            return
        self.ok, self.entries, self.last_run = result.ok, result.entries, time.time()
        if not result.ok:
            log.error("audit chain FAILED verification: %d problems", len(result.problems))

    def start(self) -> None:
        if self.every > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="audit-verify", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class OpsCollector:
    """Disks, certificates and the audit verifier's last result, as Prometheus gauges."""

    def __init__(self, config: OpsConfig, state_dir: Path, audit: AuditVerifier | None) -> None:
        self.disks = [state_dir, *config.watch_disks]
        self.certificates = list(config.watch_certificates)
        self.audit = audit

    def collect(self) -> Iterator[Metric]:
        yield from self._disks()
        yield from self._certificates()
        if self.audit is not None:
            yield from self._audit(self.audit)

    def _disks(self) -> Iterator[Metric]:
        free = GaugeMetricFamily(
            "cityhub_disk_free_bytes", "Bytes free to unprivileged writers", labels=["path"]
        )
        size = GaugeMetricFamily(
            "cityhub_disk_size_bytes", "Size of the filesystem", labels=["path"]
        )
        for path in self.disks:
            try:
                st = os.statvfs(path)
            except OSError:
                continue  # not mounted yet: the target-down and disk alerts see the gap
            free.add_metric([str(path)], float(st.f_bavail * st.f_frsize))
            size.add_metric([str(path)], float(st.f_blocks * st.f_frsize))
        yield free
        yield size

    def _certificates(self) -> Iterator[Metric]:
        expiry = GaugeMetricFamily(
            "cityhub_tls_cert_not_after_seconds",
            "Expiry of a watched certificate (Unix time)",
            labels=["path"],
        )
        readable = GaugeMetricFamily(
            "cityhub_tls_cert_readable",
            "1 if the watched certificate could be read",
            labels=["path"],
        )
        for path in self.certificates:
            try:
                expiry.add_metric([str(path)], certificate_not_after(path))
                readable.add_metric([str(path)], 1.0)
            except (OSError, ValueError):
                readable.add_metric([str(path)], 0.0)
        yield expiry
        yield readable

    def _audit(self, audit: AuditVerifier) -> Iterator[Metric]:
        if audit.ok is None:
            return  # never ran: absent, so the staleness alert fires rather than a false pass
        yield GaugeMetricFamily(
            "cityhub_audit_verify_ok",
            "1 if the last audit-chain verification passed",
            value=float(audit.ok),
        )
        yield GaugeMetricFamily(
            "cityhub_audit_verify_last_run_seconds",
            "When the audit chain was last verified (Unix time)",
            value=audit.last_run,
        )
        yield GaugeMetricFamily(
            "cityhub_audit_entries",
            "Entries in the audit chain at the last verification",
            value=float(audit.entries),
        )


def registry_for(collector: Any) -> CollectorRegistry:
    """A registry of its own per app (tests build many apps): ops gauges plus process stats."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    registry.register(collector)
    return registry
