"""The :class:`Runtime`: discovers the emulator's DynamoDB stream mappings and runs them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import aws
from .batching import Backoff
from .checkpoints import CheckpointStore
from .runner import MappingConfig, MappingRunner, Services
from .validation import is_dynamodb_stream
from .worker import WorkerPool

log = logging.getLogger("ddbstream.local.runtime")


class Runtime:
    """Executes every DynamoDB-stream event source mapping of an emulator, as Lambda does.

    ``endpoint`` is the emulator's URL (moto's server, running in this process so that the
    deployed code can be read from its Lambda backend). ``state_dir`` holds the checkpoints and
    the unzipped code. ``on_event`` receives progress dicts (``type``: ``mapping-started``,
    ``mapping-stopped``, ``invoke``, ``discard``, ``filtered``, ``error``).

    ``poll_interval`` is the idle polling period of a shard (Lambda: about four times a
    second); ``refresh_interval`` how often the mappings are listed again (new, changed,
    enabled/disabled, deleted); ``retry_base_delay`` and ``retry_max_delay`` the backoff between
    attempts at a failing batch (:class:`.batching.Backoff`: 1 s doubling to 60 s); ``clock``
    the wall clock used for record ages (tests may shift it); ``select`` limits the runtime to
    the mappings (as ListEventSourceMappings returns them) for which it returns True.
    ``credentials`` (access key id, secret) are used for the emulator and handed to the function
    as its execution role's; the default dummy pair means moto's default account, an IAM access
    key of another account makes moto answer for that account. A warm worker left idle for
    ``worker_idle_timeout`` seconds is stopped (the next invocation is a cold start).
    """

    def __init__(
        self,
        endpoint: str,
        state_dir: str | Path,
        *,
        region: str = "us-east-1",
        on_event: Callable[[dict[str, Any]], None] | None = None,
        poll_interval: float = 0.25,
        refresh_interval: float = 1.0,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 60.0,
        clock: Callable[[], float] = time.time,
        select: Callable[[dict[str, Any]], bool] | None = None,
        credentials: tuple[str, str] | None = None,
        worker_idle_timeout: float = 300.0,
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.state_dir = Path(state_dir)
        self.refresh_interval = refresh_interval
        self.worker_idle_timeout = worker_idle_timeout
        self._select = select
        clients = aws.Clients(endpoint, region, credentials)
        self.services = Services(
            clients=clients,
            functions=aws.FunctionSource(clients, self.state_dir),
            telemetry=aws.Telemetry(clients),
            pool=WorkerPool(),
            store=CheckpointStore(self.state_dir),
            clock=clock,
            poll_interval=poll_interval,
            backoff=Backoff(retry_base_delay, retry_max_delay),
            on_event=on_event,
        )
        self._runners: dict[str, MappingRunner] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retiring: dict[str, threading.Thread] = {}

    # -- public API ----------------------------------------------------------------------
    def start(self) -> Runtime:
        """Discover the mappings and start the background threads; returns self."""
        if self._thread is not None:
            return self
        # moto's own stream-to-Lambda path would consume (and drop) the stream's records;
        # ddbstream.local.emulator.start() switches it off, this makes sure of it.
        from ddbstream.local import emulator

        emulator.patch_moto()
        self.refresh()
        self._thread = threading.Thread(target=self._refresh_loop, daemon=True, name="ddb-esm")
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling; let in-flight batches finish for up to ``timeout`` seconds.

        A batch still running after that is abandoned (its worker is killed) and not
        checkpointed, so the next runtime processes it again. Checkpoints are on disk already.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            runners = list(self._runners.values())
            self._runners.clear()
        deadline = time.monotonic() + timeout
        for r in runners:
            r.stopping.set()
        for r in runners:
            r.stop(max(0.0, deadline - time.monotonic()))
        for t in list(self._retiring.values()):
            t.join(max(0.0, deadline - time.monotonic()))
        self.services.pool.close()
        for r in runners:
            r.stop(2.0)
        # the logs and metrics of every invocation so far, before the emulator stops
        self.services.telemetry.close(max(5.0, deadline - time.monotonic()))

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every enabled mapping is caught up and nothing is in flight.

        "Caught up" means a poll of each shard that started after this call returned no
        records, every record read so far is done, and the logs and metrics of the
        invocations so far are written. Returns False on timeout (for example
        while a failing batch is being retried).
        """
        t0 = time.monotonic()
        deadline = t0 + timeout
        self.refresh()
        while time.monotonic() < deadline:
            with self._lock:
                runners = list(self._runners.values())
            if all(r.idle_since(t0) for r in runners):
                # and the invocations' logs and metrics are written
                return self.services.telemetry.flush(max(0.0, deadline - time.monotonic()))
            time.sleep(0.05)
        return False

    def refresh(self) -> None:
        """List the mappings now and start, update or stop runners to match."""
        try:
            mappings = self._list_mappings()
        except (ClientError, BotoCoreError) as e:
            log.warning("cannot list event source mappings: %s", e)
            return
        seen = set()
        for m in mappings:
            if not is_dynamodb_stream(m.get("EventSourceArn", "")):
                continue
            if self._select is not None and not self._select(m):
                continue
            cfg = MappingConfig.from_api(m)
            seen.add(cfg.uuid)
            enabled = m.get("State") in ("Enabled", "Enabling", "Creating", "Updating")
            with self._lock:
                runner = self._runners.get(cfg.uuid)
                if not enabled:
                    if runner is not None:
                        self._retire(runner, "disabled")
                    continue
                if runner is not None and runner.cfg.restart_key != cfg.restart_key:
                    self._retire(runner, "reconfigured")
                    runner = None
                if runner is None:
                    retiring = self._retiring.get(cfg.uuid)
                    if self._stop.is_set() or (retiring is not None and retiring.is_alive()):
                        continue  # the old runner is finishing its in-flight batch
                    runner = MappingRunner(cfg, self.services)
                    self._runners[cfg.uuid] = runner
                    started = {"type": "mapping-started", "mapping": cfg.uuid}
                    self.services.emit({**started, "function": cfg.function_name})
                elif runner.cfg != cfg:
                    runner.update(cfg)
            runner.discover_shards()
        with self._lock:
            for uuid_ in list(self._runners):
                if uuid_ not in seen:
                    self._retire(self._runners[uuid_], "deleted", forget=True)

    def mappings(self) -> list[str]:
        """UUIDs of the mappings being executed."""
        with self._lock:
            return list(self._runners)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per mapping: invocations, errors, records invoked/filtered/discarded, ..."""
        with self.services.stats_lock:
            return {k: dict(v) for k, v in self.services.stats.items()}

    @property
    def workers_started(self) -> int:
        """Cold starts so far (a new worker process per configuration or code change)."""
        return self.services.pool.started

    # -- internals -----------------------------------------------------------------------
    def _list_mappings(self) -> list[dict[str, Any]]:
        client = self.services.clients.lambda_
        out: list[dict[str, Any]] = []
        kw: dict[str, Any] = {}
        while True:
            resp = client.list_event_source_mappings(**kw)
            out.extend(resp.get("EventSourceMappings") or [])
            marker = resp.get("NextMarker")
            if not marker:
                return out
            kw["Marker"] = marker

    def _retire(self, runner: MappingRunner, why: str, *, forget: bool = False) -> None:
        """Stop ``runner`` in the background; ``forget``: then drop its checkpoints (deleted)."""
        self._runners.pop(runner.cfg.uuid, None)
        runner.stopping.set()
        for s in list(runner.shards.values()):
            s.wake()

        def finish() -> None:
            runner.stop(900.0)  # an in-flight batch still finishes, and checkpoints
            if forget:
                self.services.store.forget(runner.cfg.uuid)

        t = threading.Thread(target=finish, daemon=True, name="esm-stop")
        t.start()
        self._retiring[runner.cfg.uuid] = t
        self.services.emit({"type": "mapping-stopped", "mapping": runner.cfg.uuid, "reason": why})

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.refresh_interval):
            try:
                self.refresh()
                self.services.pool.reap(self.worker_idle_timeout)
            except Exception:
                log.exception("refreshing event source mappings failed")
