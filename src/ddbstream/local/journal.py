"""Crash durability of the emulator: a write-ahead journal of its mutating requests.

moto keeps its state in memory. :mod:`ddbstream.local.snapshot` saves it whole; this module
makes every acknowledged change survive between two snapshots, even a ``kill -9`` of ``up`` or
the machine losing power:

* :class:`DurableApp` wraps moto's WSGI application. A request that changes state (see
  :func:`is_mutation`) is appended to the journal *before* moto applies it, and the client gets
  its response only once that line is on disk (``fsync``): an acknowledged write is on disk.
  Mutations are applied one at a time, in journal order; the ``fsync`` is taken after the turn
  and shared (group commit): the requests whose lines were written while one ``fsync`` ran wait
  for the next, which covers them all (an append-only file: an ``fsync`` covers every line
  written before it). A read is answered only once every mutation applied before it ended is
  on disk too, so no client ever sees a change a crash could still take back.
* On start, the last snapshot is restored and the journal's entries since it are replayed
  through the same application in process (:meth:`DurableApp.replay`), then a new snapshot is
  taken and the journal emptied (:meth:`DurableApp.checkpoint`, also by ``down``). While
  serving, :meth:`DurableApp.compact` takes one periodically: requests wait while the state is
  copied, not while the copy is written, and the journal then drops the entries it holds. Each
  snapshot records the sequence number of the last journal entry it holds, so a crash between
  writing a snapshot and trimming the journal replays nothing twice.

Deterministic replay: a replayed request must give what it gave the first time, or a resource
created after the last snapshot comes back under a new id while Terraform's state, the runtime's
checkpoints (keyed by mapping UUID and stream ARN) and clients still hold the old one. So each
journaled request is written with a ``seed`` (``<salt>/<seq>``: unique within the state
directory, the salt told apart per process) and its ``time``, and moto applies it, live and on
replay, inside :func:`ddbstream.local.emulator.reproducible`: every id it draws (moto's
``mock_random``; ``os.urandom``, hence ``uuid.uuid4``) comes from a generator seeded for that
request alone, and its clock (``moto.core.utils.utcnow``) reads the request's time. Mutations are
applied one at a time, in journal order, so each sees the state it saw before; the generator is
per thread, so reads served meanwhile (not journaled) neither take nor shift its draws, and
moto's service modules and backends, made on first use (live perhaps by a read), draw outside
it; an SNS delivery, made by another thread after Publish answered, runs with a seed derived
from its Publish's. DynamoDB stream sequence numbers are a counter, event ids derived from them
(see :func:`ddbstream.local.emulator.patch_moto`): replayed as they were. An SQS ``ReceiveMessage``
is a read, but it gives out receipt handles: after it, the handles are journaled as an entry
``{"seq", "receipts"}`` (before the answer, so a DeleteMessage naming one comes later) and a
replay gives them back, so a message deleted before a crash stays deleted and one in flight stays
in flight. Checked by tests/local/test_durable.py::test_a_replay_recreates_every_resource_with_
the_ids_it_had (mapping, function, role, KMS key + alias + ciphertext, stream ARN and records,
queue, messages and handles, subscription, Athena ids, a multipart upload).

Requests run inside :class:`Gate`'s shared side, and a snapshot waits until none runs. A
ReceiveMessage that may wait (``WaitTimeSeconds`` > 0, a long poll) would hold it for up to 20 s
on an empty queue, and every request behind that snapshot with it; so it is served as short
receives (:class:`LongPoll`), each inside the gate, waiting outside between them for a message
(woken by moto's SendMessage, or every :data:`POLL_RECHECK` seconds).

Limits of the replay: timestamps moto takes elsewhere than its clock (S3 bucket ``CreationDate``,
Athena and Application Auto Scaling times, a dashboard's ``LastModified``: none compared by
Terraform or the runtime) are the replay's; ids drawn from Python's ``random`` module,
``secrets`` or ``uuid.uuid1`` (none in the services this stack uses) are new; a receive that
moves messages to a dead-letter queue (a redrive policy's ``maxReceiveCount``) is not replayed;
in-process writes to moto that bypass HTTP (the local CloudWatch's alarm evaluation and the
notifications it publishes) are not journaled at all. A replayed request that moto fails with
an exception failed (HTTP 500) the first time too and the replay goes on.

Reads (GET/HEAD, and actions named Get*, List*, Describe*, Query, Scan, Receive*, ...) are not
journaled. A request torn by the crash while being written was never applied nor acknowledged,
and is dropped.

Cost: one ``fsync`` (2-3 ms on this machine's disk) per group of mutating requests that arrived
while the previous one ran, outside the mutation lock, so concurrent writers share it; a lone
writer still waits for its own. See README "Durability". The seeded generator adds about 50 µs
per mutation (measured: ``reproducible()`` with one uuid4, 54 µs; a bare uuid4, 6 µs), and a
ReceiveMessage that returned messages writes one more line.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode

from ddbstream.local import snapshot

#: Action names that only read (AWS's naming convention for read operations).
READ_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Query",
    "Scan",
    "BatchGet",
    "Receive",
    "Filter",
    "Lookup",
    "Search",
    "Select",
    "Head",
    "Check",
    "Simulate",
    "Validate",
    "Estimate",
    "Test",
)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: The environ key moto's request handler keeps original header spellings under (a dict).
_PRESERVED_KEY = "moto.preserved_header_names"


def action_of(environ: dict[str, Any], body: bytes) -> str | None:
    """The API action a request names: ``X-Amz-Target`` (JSON protocols), ``/operation/NAME``
    (RPC v2 CBOR), or ``Action=`` in the query string or form body (query protocol)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    path = str(environ.get("PATH_INFO", ""))
    if "/operation/" in path:
        return path.rsplit("/operation/", 1)[1].split("/", 1)[0]
    for source in (str(environ.get("QUERY_STRING", "")), _form(environ, body)):
        found = _first_action(source)
        if found:
            return found
    return None


def _first_action(form: str) -> str | None:
    """``parse_qs(form).get("Action")[0]``: the first non-empty ``Action`` field, decoded.
    botocore writes it first, so a form starting ``Action=NAME&`` is answered without
    decoding the rest (a PublishBatch body is ~10 KB: parsing it all was 5% of the
    emulator's time, besides werkzeug's and moto's own parse of the same form)."""
    if form.startswith("Action="):
        end = form.find("&")
        raw = form[7:] if end < 0 else form[7:end]
        if raw:
            return unquote(raw.replace("+", " "))
    found = parse_qs(form).get("Action")
    return found[0] if found else None


def _form(environ: dict[str, Any], body: bytes) -> str:
    if "x-www-form-urlencoded" not in str(environ.get("CONTENT_TYPE", "")):
        return ""
    return body.decode("utf-8", "replace")


def is_mutation(environ: dict[str, Any], body: bytes) -> bool:
    """True for a request that may change the emulator's state (journaled)."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    if method in READ_METHODS or str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
        return False
    action = action_of(environ, body)
    if action is None:  # REST: POST/PUT/DELETE/PATCH change things
        return True
    return not action.startswith(READ_PREFIXES)


class Gate:
    """Many requests at once (shared), or a snapshot alone (exclusive); the snapshot waits
    for the requests in progress and new ones wait for the snapshot."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._exclusive = False
        self._waiting_exclusive = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive or self._waiting_exclusive:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting_exclusive += 1
            while self._exclusive or self._active:
                self._cond.wait()
            self._waiting_exclusive -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


def _seq_of(line: bytes) -> int:
    """The number of a journal line (it starts ``{"seq":N,``); a torn line counts as after
    everything, so that it stays where a restore drops it."""
    head = line[: line.find(b",")]
    try:
        return int(head.rpartition(b":")[2])
    except ValueError:
        return 1 << 62


class Journal:
    """An append-only file of requests, one JSON line each: ``{"seq", "environ", "body"}``."""

    def __init__(self, path: Path, next_seq: int = 1, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self.next_seq = next_seq
        self.synced = next_seq - 1  # every entry up to this one is on disk
        self.syncs = 0  # fsyncs taken (the group commit's groups)
        self.appended = 0  # entries written since the last reset
        self.bytes = 0
        self._f = open(path, "ab")  # noqa: SIM115 (kept open for the stack's life)
        self._sync = threading.Condition()
        self._syncing = False

    def append(self, environ: dict[str, Any], body: bytes, sync: bool = True, **extra: Any) -> int:
        """Write a request's entry (and ``extra`` fields: its seed and time), one caller at a
        time; on disk before this returns unless ``sync`` is False, when :meth:`sync` must be
        called with its number before it is relied on."""
        fields = {"environ": _recordable(environ), "body": base64.b64encode(body).decode()}
        return self.append_entry({**fields, **extra}, sync=sync)

    def append_entry(self, fields: dict[str, Any], sync: bool = True) -> int:
        """Write any entry (a request, or what a read changed: ``receipts``); as :meth:`append`."""
        seq = self.next_seq
        line = json.dumps({"seq": seq, **fields}, separators=(",", ":")).encode()
        self._f.write(line + b"\n")
        self._f.flush()  # in the OS before its number is taken as written (see sync)
        self.next_seq += 1
        self.appended += 1
        self.bytes += len(line) + 1
        if sync:
            self.sync(seq)
        return seq

    def sync(self, seq: int) -> None:
        """Return once entry ``seq`` (and every one before it) is on disk. Callers from many
        threads share the ``fsync``: one runs it for every entry written so far, the others
        wait for it, or for the next one when theirs was written after it began."""
        if not self.fsync:
            return
        with self._sync:
            while self.synced < seq:
                if self._syncing:
                    self._sync.wait()
                    continue
                self._syncing = True
                upto = self.next_seq - 1  # written and flushed (append bumps it after flush)
                ok = False
                self._sync.release()
                try:
                    os.fsync(self._f.fileno())
                    ok = True
                finally:
                    self._sync.acquire()
                    self._syncing = False
                    if ok:
                        self.synced = max(self.synced, upto)
                        self.syncs += 1
                    self._sync.notify_all()

    def reset(self) -> None:
        """Empty the journal (its entries are in a snapshot now); numbering carries on. Only
        while nobody appends or syncs (a checkpoint)."""
        self._f.truncate(0)
        self._f.seek(0)
        if self.fsync:
            os.fsync(self._f.fileno())
        self.synced = self.next_seq - 1
        self.appended = 0
        self.bytes = 0

    def drop_through(self, seq: int) -> None:
        """Drop the entries up to ``seq`` (a snapshot on disk holds them) and keep the later
        ones; the file is replaced atomically, so a crash leaves either file, each of which a
        restore reads right (it skips what the snapshot holds). Only while nobody appends."""
        with self._sync:
            while self._syncing:  # an fsync of the old file under way
                self._sync.wait()
            self._f.flush()
            kept = [
                line
                for line in self.path.read_bytes().splitlines(keepends=True)
                if line.strip() and _seq_of(line) > seq
            ]
            snapshot.write(self.path, b"".join(kept), fsync=self.fsync)  # atomic, as a snapshot
            self._f.close()
            self._f = open(self.path, "ab")  # noqa: SIM115 (kept open for the stack's life)
            self.synced = self.next_seq - 1 if self.fsync else self.synced
            self.appended = len(kept)
            self.bytes = sum(len(line) for line in kept)
            self._sync.notify_all()

    def close(self) -> None:
        self._f.close()

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """The journal's entries in order; a torn last line (a crash while writing) is dropped."""
        entries: list[dict[str, Any]] = []
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return entries
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
                int(entry["seq"])
                if "environ" in entry:
                    entry["body"] = base64.b64decode(entry["body"])
            except (ValueError, KeyError, TypeError):
                break  # torn: never applied, never acknowledged
            entries.append(entry)
        return entries


def _recordable(environ: dict[str, Any]) -> dict[str, Any]:
    """The parts of a WSGI environ that describe the request (strings, and moto's header map)."""
    kept: dict[str, Any] = {}
    for key, value in environ.items():
        plain = isinstance(value, str) and not key.startswith(("wsgi.", "werkzeug."))
        if plain or (key == _PRESERVED_KEY and isinstance(value, dict)):
            kept[key] = value
    return kept


def _error(start_response: Callable[..., Any], status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _stopping(start_response: Callable[..., Any]) -> list[bytes]:
    body = b"the local stack is stopping"
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )
    return [body]


def _read_body(environ: dict[str, Any]) -> bytes:
    """The whole request body (Content-Length or chunked), leaving a re-readable copy."""
    from werkzeug.wsgi import get_input_stream

    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = True
    return body


#: The emulator's fault-injection endpoint (for the reliability suite, ``make chaos``):
#: POST ``{"service": "s3", "seconds": 60}`` makes that service's writes fail (503) for a while;
#: POST ``{"poison": "MARKER", "seconds": 60}`` corrupts, as they are read (DynamoDB Streams
#: ``GetRecords``), the stream records whose keys contain MARKER (see :func:`poison_record`).
#: The local stack keeps the windows in its state directory (:meth:`DurableApp.keep_faults`):
#: a fault outlives a restart of the stack (``down``/``up``, ``kill -9``) until its deadline.
FAULT_PATH = "/_ddbstream/fault"

#: The kinds of poison :func:`poison_record` applies, chosen by the record's sequence number.
POISON_KINDS = ("bad-number", "unknown-type", "bad-key", "bad-event-name")


def poison_record(record: dict[str, Any]) -> str:
    """Corrupt one ``GetRecords`` record in place; returns the kind applied.

    DynamoDB refuses an undecodable value in ``PutItem``, so poison can only appear in what
    the consumer reads. The kind is chosen by the sequence number, so every read of a record
    (a retry, a re-read after a restart) gets the same corruption:

    * ``bad-number``: a non-key attribute of the image becomes ``{"N": "12..5"}`` (partial:
      the keys and the rest of the change decode);
    * ``unknown-type``: a non-key attribute gets an unknown type descriptor ``{"Z": "?"}``
      (partial; boto3 reading the stream drops the unknown member, so the function sees ``{}``);
    * ``bad-key``: a key attribute becomes ``{"N": "not-a-number"}`` (whole: no keys, no
      change to audit);
    * ``bad-event-name``: ``eventName`` becomes ``UPSERT`` (whole: a structurally broken record).

    The image corrupted is the new one, or the old one of a REMOVE; a record without images
    (``KEYS_ONLY``) gets a bad key instead."""
    ddb = record.setdefault("dynamodb", {})
    keys = ddb.setdefault("Keys", {})
    try:
        kind = POISON_KINDS[int(ddb.get("SequenceNumber", 0)) % len(POISON_KINDS)]
    except (TypeError, ValueError):
        kind = POISON_KINDS[0]
    image = ddb.get("NewImage") if "NewImage" in ddb else ddb.get("OldImage")
    if kind in ("bad-number", "unknown-type") and not isinstance(image, dict):
        kind = "bad-key"
    if kind == "bad-key" and not keys:
        kind = "bad-event-name"
    if kind == "bad-key":
        keys[min(keys)] = {"N": "not-a-number"}
    elif kind == "bad-event-name":
        record["eventName"] = "UPSERT"
    else:
        assert isinstance(image, dict)
        names = sorted(set(image) - set(keys)) or ["poisoned"]
        image[names[0]] = {"N": "12..5"} if kind == "bad-number" else {"Z": "?"}
    return kind


#: What "writes of a service" means for a fault: the requests that deliver the processor's work.
FAULT_ACTIONS = {
    "s3": lambda method, action: method in ("PUT", "POST") and action is None,
    "sns": lambda method, action: action in ("Publish", "PublishBatch"),
}


def _scope(environ: dict[str, Any]) -> list[str]:
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    _, _, cred = auth.partition("Credential=")
    return cred.split(",", 1)[0].split("/")


def service_of(environ: dict[str, Any]) -> str | None:
    """The signing service of a request (``Credential=KEY/DATE/REGION/SERVICE/aws4_request``)."""
    parts = _scope(environ)
    return parts[3] if len(parts) >= 5 else None


def region_of(environ: dict[str, Any]) -> str:
    """The signing region of a request (what moto serves it from); moto's default without one."""
    parts = _scope(environ)
    return parts[2] if len(parts) >= 5 and parts[2] else "us-east-1"


#: How often a long poll waiting outside the gate receives again even when nothing was sent:
#: a message whose visibility timeout or delay ends wakes nobody (moto's own loop: each 1 s).
POLL_RECHECK = 0.5


class LongPoll:
    """An SQS ``ReceiveMessage`` that may wait (``WaitTimeSeconds`` > 0, given or the queue's
    ``ReceiveMessageWaitTimeSeconds``), served as short receives: the same request with
    ``WaitTimeSeconds`` 0, each inside the gate, and waits outside it between them.

    In moto the wait happened inside the request, so inside :class:`Gate`'s shared side: a
    long poll on an empty queue held every snapshot back for up to its wait (20 s at most),
    and every other request of the stack queued behind that snapshot."""

    def __init__(
        self, environ: dict[str, Any], body: bytes, wait: int, account: str, region: str, name: str
    ) -> None:
        self.environ = environ  # the request with WaitTimeSeconds 0
        self.body = body
        self.wait = wait
        self.where = (account, region, name)

    def request(self) -> dict[str, Any]:
        """A fresh copy of the short receive to hand to moto (it reads the body each time)."""
        environ = dict(self.environ)
        environ["wsgi.input"] = io.BytesIO(self.body)
        environ["CONTENT_LENGTH"] = str(len(self.body))
        return environ

    def queue(self) -> Any | None:
        """moto's queue object (None once deleted)."""
        account, region, name = self.where
        return _sqs_queue(account, region, name)

    @classmethod
    def of(cls, environ: dict[str, Any], body: bytes) -> LongPoll | None:
        """The long poll a request is, or None: not a ReceiveMessage, no wait, a wait moto
        refuses (it answers the error at once), or a queue not found (moto answers)."""
        if action_of(environ, body) != "ReceiveMessage":
            return None
        env = dict(environ)
        given: Any
        if environ.get("HTTP_X_AMZ_TARGET"):  # JSON protocol (boto3, AWS CLI v2)
            try:
                doc = json.loads(body or b"{}")
            except ValueError:
                return None
            if not isinstance(doc, dict):
                return None
            given, url = doc.get("WaitTimeSeconds"), doc.get("QueueUrl")
            new_body = json.dumps({**doc, "WaitTimeSeconds": 0}).encode()
        else:  # query protocol: parameters in the form body or the query string
            form = _form(environ, body)
            query = str(environ.get("QUERY_STRING", ""))
            pairs = {
                "form": parse_qsl(form, keep_blank_values=True),
                "query": parse_qsl(query, keep_blank_values=True),
            }
            params = dict(pairs["query"] + pairs["form"])
            given, url = params.get("WaitTimeSeconds"), params.get("QueueUrl")
            kept = {k: [(n, v) for n, v in p if n != "WaitTimeSeconds"] for k, p in pairs.items()}
            kept["form" if form else "query"].append(("WaitTimeSeconds", "0"))
            new_body = urlencode(kept["form"]).encode() if form else body
            env["QUERY_STRING"] = urlencode(kept["query"])
        # moto takes the queue's name from the URL's last part (or the path, without one)
        parts = str(url or environ.get("PATH_INFO", "")).rstrip("/").split("/")
        region = region_of(environ)
        found = None
        for account in _accounts(environ, parts[-2] if len(parts) > 1 else ""):
            queue = _sqs_queue(account, region, parts[-1])
            if queue is not None:
                found = account, queue
                break
        if found is None:
            return None
        try:
            wait = int(found[1].receive_message_wait_time_seconds if given is None else given)
        except (TypeError, ValueError):
            return None
        if not 0 < wait <= 20:  # no wait; or one moto refuses, at once
            return None
        return cls(env, new_body, wait, found[0], region, parts[-1])


def _accounts(environ: dict[str, Any], in_url: str) -> list[str]:
    """The accounts a queue may belong to, moto's choice first (its environment variable, its
    header, else its default account; the stack's clients use the default), then the URL's."""
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
    except ImportError:  # not served by moto
        return []
    first = os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    return [a for a in dict.fromkeys((first, DEFAULT_ACCOUNT_ID, in_url)) if a]


def _sqs_queue(account: str, region: str, name: str) -> Any | None:
    """moto's queue, if that account and region hold one by that name (creating nothing)."""
    try:
        from moto.sqs.models import sqs_backends
    except ImportError:
        return None
    if account not in sqs_backends or region not in sqs_backends[account]:
        return None
    return sqs_backends[account][region].queues.get(name)


class DurableApp:
    """moto's WSGI application with a write-ahead journal (see the module docstring).

    ``journal`` is None until the stack has a snapshot to journal against; until then requests
    pass through (a stack that never became ready starts afresh after a crash)."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        settle: Callable[[], Any] | None = None,
        reproducible: Callable[[str, float], contextlib.AbstractContextManager[Any]] | None = None,
        receipts: Callable[[], contextlib.AbstractContextManager[list[Any]]] | None = None,
        apply_receipts: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self.app = app
        if reproducible is None or receipts is None or apply_receipts is None:
            from ddbstream.local import emulator  # imports this module: not at the top

            reproducible = reproducible or emulator.reproducible
            receipts = receipts or emulator.receipts
            apply_receipts = apply_receipts or emulator.apply_receipts
        #: applies one journaled request with its seed and time (deterministic replay)
        self.reproducible = reproducible
        self.receipts = receipts
        self.apply_receipts = apply_receipts
        # Seeds are "<salt>/<seq>": the sequence number never repeats within a state directory
        # (numbering carries on across snapshots and restarts), the salt tells stacks apart.
        self.salt = secrets.token_hex(8)
        self.replay_errors = 0  # replayed requests moto failed with an exception
        #: waits for the work moto does after answering (SNS deliveries, see
        #: :class:`ddbstream.local.emulator.Deliveries`): before a snapshot, and after each
        #: replayed request
        self.settle = settle or (lambda: None)
        self.gate = Gate()
        self.journal: Journal | None = None
        self.base_seq = 0  # the journal position the last snapshot holds
        self.fsync = True
        self.closed = False  # no request reaches moto any more (the stack is stopping)
        # Set when stopping begins: later requests, and mutations still waiting for their turn
        # (never journaled, never acknowledged), are refused, so a stop under heavy write load
        # waits only for the few requests moto is applying, not for a queue of hundreds.
        self.closing = False
        self.faults: dict[str, float] = {}  # service -> until (monotonic): writes fail
        self.poison: dict[str, float] = {}  # key marker -> until (monotonic): records corrupted
        self._faults_path: Path | None = None
        self._mutex = threading.Lock()  # mutations one at a time, in journal order

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.gate.shared():
            if self.closed or self.closing:  # also on a kept-alive connection opened before
                return _stopping(start_response)
            if environ.get("PATH_INFO") == FAULT_PATH:
                return self._set_fault(environ, start_response)
            if self.faults and self._faulty(environ):
                return _error(start_response, "503 Service Unavailable", b"injected outage")
            if self.poison and self._reads_stream(environ):
                return self._poisoned(environ, start_response)
            poll = self._long_poll(environ)
            if poll is None:
                return self._serve(environ, start_response)
        return self._serve_long_poll(poll, start_response)  # waits outside the gate

    def _long_poll(self, environ: dict[str, Any]) -> LongPoll | None:
        """The long poll this request is (see :class:`LongPoll`), or None."""
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target is not None:
            if target != "AmazonSQS.ReceiveMessage":
                return None
        elif "ReceiveMessage" not in str(environ.get("QUERY_STRING", "")):
            # the query protocol's form body (SNS, IAM, STS... use it too: a cheap look first)
            if "x-www-form-urlencoded" not in str(environ.get("CONTENT_TYPE", "")):
                return None
            if b"ReceiveMessage" not in _read_body(environ):
                return None
        return LongPoll.of(environ, _read_body(environ))

    def _serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """Any request but a long poll, inside the gate."""
        journal = self.journal
        if journal is None:
            return list(self.app(environ, start_response))
        body = _read_body(environ)
        if not is_mutation(environ, body):
            out = self._read(journal, environ, body, start_response)
            # what this read saw may be a mutation applied and not yet on disk: answer
            # once it is (nothing waits when no fsync is pending)
            journal.sync(journal.next_seq - 1)
            return out
        with self._mutex:
            if self.closing:  # waited while the stack began stopping: not applied
                return _stopping(start_response)
            seed, at = f"{self.salt}/{journal.next_seq}", time.time()
            seq = journal.append(environ, body, sync=False, seed=seed, time=at)
            with self.reproducible(seed, at):
                out = list(self.app(environ, start_response))
        # werkzeug sends the status and headers with the first body chunk, so nothing
        # reaches the client before its entry is on disk
        journal.sync(seq)
        return out

    def _read(
        self,
        journal: Journal,
        environ: dict[str, Any],
        body: bytes,
        start_response: Callable[..., Any],
    ) -> list[bytes]:
        """A request that is not journaled; but the SQS receipt handles a ReceiveMessage gave
        out are, after it (answered once on disk: a DeleteMessage naming one comes later)."""
        if action_of(environ, body) != "ReceiveMessage":
            return list(self.app(environ, start_response))
        with self.receipts() as given:
            out = list(self.app(environ, start_response))
        if given:
            with self._mutex:
                journal.append_entry({"receipts": given}, sync=False)
        return out

    def _serve_long_poll(self, poll: LongPoll, start_response: Callable[..., Any]) -> list[bytes]:
        """A long poll as short receives, each inside the gate, waiting outside it between
        them until a message comes or the wait ends. AWS: "If a message is available, the call
        returns sooner than WaitTimeSeconds. If no messages are available and the wait time
        expires, the call does not return a message list" (ReceiveMessage, WaitTimeSeconds);
        what each receive returns (up to MaxNumberOfMessages, visibility) is moto's answer."""
        deadline = time.monotonic() + poll.wait
        while True:
            with self.gate.shared():
                if self.closed or self.closing:
                    return _stopping(start_response)
                queue = poll.queue()
                seen = len(queue._messages) if queue is not None else 0
                status, headers, out, given = self._receive_once(poll.request())
            if given or queue is None or not status.startswith("200"):
                break  # messages, or an error (the queue deleted meanwhile: moto's answer)
            left = deadline - time.monotonic()
            if left <= 0:
                break  # the wait is over: the last, empty, answer
            self._await_message(queue, seen, min(left, POLL_RECHECK))
        start_response(status, headers)
        return out

    def _await_message(self, queue: Any, seen: int, timeout: float) -> None:
        """Outside the gate: until the queue's message count changes from ``seen`` (moto's
        SendMessage notifies the queue's condition in ``add_message``; checked again after a
        delete or a redrive too), the stack begins stopping, or ``timeout``."""
        cond = queue._messages_lock
        with cond:
            cond.wait_for(lambda: self.closing or len(queue._messages) != seen, timeout)

    def _receive_once(self, environ: dict[str, Any]) -> tuple[str, Any, list[bytes], bool]:
        """One short receive (inside the gate): status, headers, body, and whether it gave
        out messages; the receipt handles journaled as :meth:`_read` does."""
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None

        journal = self.journal
        with self.receipts() as given:
            out = list(self.app(environ, capture))
        if journal is not None:
            if given:
                with self._mutex:
                    journal.append_entry({"receipts": given}, sync=False)
            journal.sync(journal.next_seq - 1)  # as any read (and its receipts) on disk
        return str(answer["status"]), answer["headers"], out, bool(given)

    def _faulty(self, environ: dict[str, Any]) -> bool:
        service = service_of(environ)
        until = self.faults.get(service or "")
        if until is None or time.monotonic() >= until:
            return False
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        body = _read_body(environ)
        return bool(FAULT_ACTIONS[str(service)](method, action_of(environ, body)))

    def _reads_stream(self, environ: dict[str, Any]) -> bool:
        now = time.monotonic()
        for marker, until in list(self.poison.items()):
            if until <= now:
                self.poison.pop(marker, None)
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        return (
            bool(self.poison)
            and target.startswith("DynamoDBStreams")
            and target.endswith(".GetRecords")
        )

    def _poisoned(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """moto's ``GetRecords`` answer, the marked records corrupted (:func:`poison_record`)."""
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        status, headers = answer["status"], list(answer["headers"])
        if status.startswith("200"):
            try:
                doc = json.loads(body)
                markers = list(self.poison)
                for record in doc.get("Records") or []:
                    keys = json.dumps((record.get("dynamodb") or {}).get("Keys"))
                    if any(m in keys for m in markers):
                        poison_record(record)
                body = json.dumps(doc).encode()
            except (ValueError, KeyError, TypeError, AttributeError):
                pass  # not what GetRecords answers: passed on as it is
        fixed = {"content-length": str(len(body)), "x-amz-crc32": str(zlib.crc32(body))}
        headers = [(k, fixed.get(k.lower(), v)) for k, v in headers]
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", fixed["content-length"]))
        journal = self.journal
        if journal is not None:  # as any read: answered once what it saw is on disk
            journal.sync(journal.next_seq - 1)
        start_response(status, headers)
        return [body]

    def _set_fault(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        try:
            doc = json.loads(_read_body(environ) or b"{}")
            if "poison" in doc:
                marker, seconds = str(doc["poison"]), float(doc["seconds"])
                if not marker:
                    raise ValueError("poison: the key marker must not be empty")
                self.poison[marker] = time.monotonic() + seconds
                self._save_faults()
                return _error(start_response, "200 OK", b"ok")
            service, seconds = str(doc["service"]), float(doc["seconds"])
            if service not in FAULT_ACTIONS:
                raise ValueError(f"service must be one of {sorted(FAULT_ACTIONS)}")
        except (ValueError, KeyError, TypeError) as exc:
            return _error(start_response, "400 Bad Request", str(exc).encode())
        self.faults[service] = time.monotonic() + seconds
        self._save_faults()
        return _error(start_response, "200 OK", b"ok")

    def keep_faults(self, path: Path) -> None:
        """Keep the fault windows in ``path`` (as wall-clock deadlines) from now on, and take
        up those a previous run of the stack left there: a restart does not end a fault (the
        reliability suite restarts the stack in the middle of its windows)."""
        self._faults_path = path
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            wall, now = time.time(), time.monotonic()
            for name, table in (("faults", self.faults), ("poison", self.poison)):
                for key, until in dict(doc.get(name) or {}).items():
                    if float(until) > wall:
                        table[str(key)] = now + float(until) - wall
        except (OSError, ValueError, TypeError, AttributeError):
            pass  # none kept, or unreadable: no fault

    def _save_faults(self) -> None:
        path = self._faults_path
        if path is None:
            return
        wall, now = time.time(), time.monotonic()
        doc = {
            name: {k: wall + until - now for k, until in table.items() if until > now}
            for name, table in (("faults", self.faults), ("poison", self.poison))
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)

    def refuse(self) -> None:
        """Answer 503 from now on to any new request and to any mutation not yet applied."""
        self.closing = True

    def close(self) -> None:
        """Stop applying requests: wait for the ones in progress, answer any later one 503."""
        self.refuse()
        with self.gate.exclusive():
            self.closed = True

    def replay(self, entries: Iterable[dict[str, Any]], after: int = 0) -> int:
        """Apply journaled requests with ``seq > after`` in order, in process; returns how many.
        Each with the seed and time it was first applied with, so it draws the same ids. A
        request that fails now failed the first time too (same state, same order, same ids):
        one that raises (the server answered it 500) is counted in ``replay_errors`` and the
        replay goes on, as the server did."""
        count = 0
        for entry in entries:
            if int(entry["seq"]) <= after:
                continue
            if "receipts" in entry:
                self.apply_receipts(entry["receipts"])
                continue
            environ = dict(entry["environ"])
            body: bytes = entry["body"]
            environ.update(
                {
                    "wsgi.input": io.BytesIO(body),
                    "wsgi.errors": io.StringIO(),
                    "wsgi.version": (1, 0),
                    "wsgi.url_scheme": environ.get("wsgi.url_scheme", "http"),
                    "wsgi.multithread": False,
                    "wsgi.multiprocess": False,
                    "wsgi.run_once": False,
                    "wsgi.input_terminated": True,
                    "CONTENT_LENGTH": str(len(body)),
                }
            )
            seed = entry.get("seed")  # absent from a journal written before seeds were kept
            with (
                self.reproducible(str(seed), float(entry["time"]))
                if seed is not None
                else contextlib.nullcontext()
            ):
                try:
                    for _ in self.app(environ, lambda *a, **k: None):
                        pass
                except Exception:  # moto's own failure: a 500 for the client, then and now
                    self.replay_errors += 1
            self.settle()  # its deliveries before the next request, as when it first ran
            count += 1
        return count

    def checkpoint(self, save: Callable[[int], Any], journal_path: Path | None = None) -> Any:
        """While no request runs: ``save(last_seq)`` (a snapshot holding every journaled
        request up to ``last_seq``), then empty the journal; or, when none is open yet and
        ``journal_path`` is given, open it there, numbering on from ``last_seq``. Returns what
        ``save`` returned."""
        with self.gate.exclusive():
            self.settle()  # the deliveries of the requests this snapshot holds
            last = self.journal.next_seq - 1 if self.journal is not None else self.base_seq
            result = save(last)
            self.base_seq = last
            if self.journal is not None:
                self.journal.reset()
            elif journal_path is not None:
                self.journal = Journal(journal_path, next_seq=last + 1, fsync=self.fsync)
            return result

    def compact(self, dump: Callable[[int], bytes], write: Callable[[bytes], int]) -> int:
        """A snapshot while serving: ``dump(last_seq)`` copies the state while no request runs
        (it must hold every journaled request up to ``last_seq``); then requests go on while
        ``write`` puts the copy on disk (returning its size), and only once it returned are the
        journal's entries up to ``last_seq`` dropped. The state is consistent because the copy
        is taken alone; nothing is lost because the journal keeps every entry until a snapshot
        holding it is on disk. A crash between the two leaves the new snapshot and a journal
        that still begins earlier: a restore skips what the snapshot holds."""
        with self.gate.exclusive():
            self.settle()  # the deliveries of the requests this snapshot holds
            if self.journal is None:
                raise RuntimeError("no journal: nothing to compact")
            last = self.journal.next_seq - 1
            blob = dump(last)
        size = write(blob)  # requests are served meanwhile; the journal has them all
        with self._mutex:  # no entry is appended while the file is replaced
            if self.journal is not None:
                self.journal.drop_through(last)
            self.base_seq = last
        return size

    def close_journal(self) -> None:
        with self.gate.exclusive():
            if self.journal is not None:
                self.journal.close()
                self.journal = None
