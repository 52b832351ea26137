"""Group commit for audit entries that are not part of a larger transaction.

Appends are serialised (one chain), so one entry per transaction caps the hub
at one fsync per audited request. Queries, live subscriptions and other
read-side entries go through this batcher instead: a background thread takes
everything queued, appends it under one lock in one transaction, commits, and
only then releases the callers, so a response is still sent only after its
audit entry is durable.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any

from psycopg_pool import ConnectionPool

from hub.audit import chain

log = logging.getLogger(__name__)
MAX_BATCH = 500


class AuditBatcher:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._queue: queue.Queue[tuple[dict[str, Any], Future[None]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, item: dict[str, Any]) -> Future[None]:
        """Queue one entry (``chain.append`` keywords); the future resolves once committed."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-batcher", daemon=True)
                self._thread.start()
        done: Future[None] = Future()
        self._queue.put((item, done))
        return done

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            try:
                with self.pool.connection() as conn:
                    chain.append_many(conn, [item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiting caller gets the error
                log.error("audit batch of %d failed: %s", len(batch), type(exc).__name__)
                for _, fut in batch:
                    fut.set_exception(exc)
            else:
                for _, fut in batch:
                    fut.set_result(None)

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(10)
