"""The emulator with its state kept on disk: the last snapshot plus a write-ahead journal.

:class:`DurableEmulator` is what the local stack runs (:mod:`ddbstream.local.stack.lifecycle`):

1. :meth:`~DurableEmulator.restore` loads the snapshot and replays the journal written since it
   (a crash: ``kill -9``, power loss), then saves a new snapshot and empties the journal; with
   no snapshot it reports why the emulator starts empty;
2. :meth:`~DurableEmulator.start` serves on a loopback port; a restored state is journaled from
   the first request on;
3. :meth:`~DurableEmulator.begin` (a fresh stack once it is ready) takes the first snapshot and
   starts the journal; a fresh stack that crashes before that starts afresh, as it was never
   ready;
4. while it runs, a snapshot every ``compact_interval`` seconds drops from the journal what it
   holds (requests wait while the state is copied, not while the copy is written);
5. :meth:`~DurableEmulator.stop` stops accepting requests, lets the ones in progress finish,
   then saves the snapshot and empties the journal.

See :mod:`ddbstream.local.journal` for what is journaled and what a replay reproduces.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from ddbstream.local import emulator, journal, snapshot

SNAPSHOT_FILE = "emulator.pickle"
JOURNAL_FILE = "emulator.journal"
#: The fault windows of the reliability suite (``make chaos``), kept across a restart.
FAULTS_FILE = "emulator.faults.json"


class DurableEmulator:
    def __init__(
        self,
        state_dir: Path,
        *,
        fsync: bool = True,
        compact_interval: float = 60.0,
        say: Callable[[str], None] = print,
    ) -> None:
        self.state_dir = state_dir
        self.fsync = fsync
        self.compact_interval = compact_interval
        self.say = say
        self.restored: list[str] = []  # services restored from the snapshot
        self.replayed = 0  # journaled requests replayed after an unclean stop
        self.replay_errors = 0  # of those, failed by moto with an exception (as the first time)
        self.fresh_reason = ""  # why the emulator starts empty when it had state before
        self.emulator: emulator.Emulator | None = None
        self.snapshots = 0  # taken while running
        self._seq = 0  # the journal position the snapshot on disk holds
        self._stop = threading.Event()
        self._compactor: threading.Thread | None = None

    @property
    def snapshot_path(self) -> Path:
        return self.state_dir / SNAPSHOT_FILE

    @property
    def journal_path(self) -> Path:
        return self.state_dir / JOURNAL_FILE

    # -- before serving ------------------------------------------------------------------------

    def restore(self) -> bool:
        """Load the snapshot and replay the journal since it. False: the emulator starts empty
        (``fresh_reason`` says why, when there was a snapshot that could not be used)."""
        snap = self.snapshot_path
        if not snap.exists():
            with contextlib.suppress(FileNotFoundError):
                self.journal_path.unlink()  # a journal without its snapshot describes nothing
            return False
        try:
            emulator.patch_moto()
            self.restored, meta = snapshot.load_with_meta(snap)
            self._seq = int(meta.get("journal_seq", 0))
            entries = journal.Journal.read(self.journal_path)
            if entries:
                app = journal.DurableApp(emulator.moto_app(), settle=emulator.deliveries.settle)
                self.replayed = app.replay(entries, after=self._seq)
                self.replay_errors = app.replay_errors
                self._seq = max(self._seq, max(int(e["seq"]) for e in entries))
                self._save(self._seq)  # what was replayed is in a snapshot before the journal goes
            with contextlib.suppress(FileNotFoundError):
                self.journal_path.unlink()
            return True
        except Exception as exc:  # SnapshotError, or moto refusing what it unpickled
            self.restored = []
            self.fresh_reason = f"the saved emulator state could not be restored ({exc})"
            snap.rename(snap.with_suffix(".pickle.unusable"))
            with contextlib.suppress(FileNotFoundError):
                self.journal_path.rename(self.journal_path.with_suffix(".journal.unusable"))
            return False

    def start(self, host: str = "127.0.0.1", port: int | None = None) -> emulator.Emulator:
        """Serve; a restored state is journaled from the first request on."""
        self.emulator = emulator.start(host, port)
        self.emulator.app.fsync = self.fsync
        self.emulator.app.keep_faults(self.state_dir / FAULTS_FILE)
        if self.restored:
            self.emulator.app.base_seq = self._seq
            self.emulator.app.checkpoint(lambda last: 0, journal_path=self.journal_path)
            self._start_compacting()
        return self.emulator

    def begin(self) -> int:
        """A fresh emulator is ready: its first snapshot, then journal every change. Returns
        the snapshot's size (0 when the journal already runs)."""
        emu = self._running()
        if emu.app.journal is not None:
            return 0
        size = int(emu.app.checkpoint(self._save, journal_path=self.journal_path))
        self._start_compacting()
        return size

    # -- while serving -------------------------------------------------------------------------

    def compact(self) -> int:
        """A snapshot now, and the journal emptied of what it holds; returns its size.

        Requests wait only while the state is copied (``snapshot.dumps``: 0.6 s for a 30 MB
        state on a quiet machine), not while the copy is written and ``fsync``ed: that held
        every request of the stack too, and each snapshot cost the change in flight up to 1.5 s
        at 100 changes/s (``make bench-e2e``)."""
        size = self._running().app.compact(
            lambda last: snapshot.dumps({"journal_seq": last}),
            lambda blob: snapshot.write(self.snapshot_path, blob, fsync=self.fsync),
        )
        self.snapshots += 1
        return size

    def _start_compacting(self) -> None:
        self._compactor = threading.Thread(
            target=self._compact_periodically, name="emulator-snapshots", daemon=True
        )
        self._compactor.start()

    def _compact_periodically(self) -> None:
        while not self._stop.wait(self.compact_interval):
            emu = self.emulator
            if emu is None or emu.app.journal is None or not emu.app.journal.appended:
                continue
            try:
                self.compact()
            except snapshot.SnapshotError as exc:  # the journal is kept: nothing is lost
                self.say(f"could not snapshot the emulator ({exc}); its journal keeps growing")

    # -- stopping ------------------------------------------------------------------------------

    def stop(self, save: bool = True) -> int | None:
        """Stop accepting requests, finish the ones in progress, then (``save``, and a journal
        running) save the state and empty the journal. Returns the snapshot's size, or None.
        Without ``save`` the files on disk stay as they are: the next start restores them."""
        self._stop.set()
        if self.emulator is not None:  # a snapshot under way need not wait for queued writes
            self.emulator.app.refuse()
        if self._compactor is not None:
            self._compactor.join()
            self._compactor = None
        emu, self.emulator = self.emulator, None
        if emu is None:
            return None
        emu.stop()  # from here on nothing reaches moto
        size = None
        try:
            if save and emu.app.journal is not None:
                size = int(emu.app.checkpoint(self._save))
                with contextlib.suppress(FileNotFoundError):
                    self.journal_path.unlink()
        finally:
            emu.app.close_journal()
        return size

    # -- helpers -------------------------------------------------------------------------------

    def _running(self) -> emulator.Emulator:
        if self.emulator is None:
            raise RuntimeError("the emulator is not running")
        return self.emulator

    def _save(self, journal_seq: int) -> int:
        """The snapshot, holding the journal up to ``journal_seq``, on disk when this returns."""
        return snapshot.save(
            self.snapshot_path, meta={"journal_seq": journal_seq}, fsync=self.fsync
        )
