"""The emulator's CPU per SNS PublishBatch: how many the local stack answers per second, and
what each costs the ``up`` side (the call, its deliveries, the inbox draining them).

A server process runs what ``ddbstream up`` runs for notifications: a
:class:`~ddbstream.local.durable.DurableEmulator` (journal + fsync), a standard topic, and the
local inbox (:class:`~ddbstream.local.monitoring.inbox.Inbox`: an SQS queue subscribed without
raw delivery, drained by long polls). This process (the client, apart so that its CPU is not
counted) sends PublishBatch calls of 10 messages like the handler's (about 700 bytes, a Subject
and message attributes) from ``--threads`` threads for ``--seconds``, then waits until the inbox
has every message. Printed: calls per second while publishing, and the server's CPU per call
(from /proc, from the first call until the inbox has drained the last message).

    .venv/bin/python bench/publish_cpu.py [--seconds 15] [--threads 10] [--profile FILE]
    .venv/bin/python bench/publish_cpu.py --calls 100 --rounds 5   # drains like bench-e2e's

With ``--seconds`` the calls come faster than the inbox drains them and its queue grows
thousands deep (what costs with the depth shows); ``--calls`` sends rounds of that many calls,
each drained before the next (``drained_s`` then sums the rounds).

``--profile FILE`` records the server with py-spy meanwhile (raw format, ``--nonblocking``,
``--gil``: only the thread holding the interpreter, so a thread waiting for it, or in a C call
that let it go, is not counted as busy).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SERVER = """
import json, sys, threading
from pathlib import Path
from ddbstream.local import clients
from ddbstream.local.durable import DurableEmulator
from ddbstream.local.monitoring.inbox import Inbox

state = Path(sys.argv[1])
d = DurableEmulator(state, compact_interval=3600, say=lambda s: None)
d.restore()
emu = d.start()
d.begin()
sns = clients.client("sns", emu.endpoint)
topic = sns.create_topic(Name="changes")["TopicArn"]
inbox = Inbox(lambda s: clients.client(s, emu.endpoint), topic, state / "notifications.jsonl")
inbox.start()
print(json.dumps({"endpoint": emu.endpoint, "topic": topic}), flush=True)
for line in sys.stdin:
    if line.strip() == "count":
        print(json.dumps({"received": inbox.received}), flush=True)
    else:
        break
inbox.stop()
d.stop(save=False)
"""


def entries(call: int) -> list[dict]:
    out = []
    for i in range(10):
        n = call * 10 + i
        body = {
            "event_id": f"{n:032x}",
            "event_name": "MODIFY",
            "table_name": "orders",
            "sequence_number": f"{4000000000000000000000 + n}",
            "keys": {"pk": f"order#{n}", "sk": "v0"},
            "new_image": {"pk": f"order#{n}", "sk": "v0", "status": "shipped", "total": n},
            "old_image": {"pk": f"order#{n}", "sk": "v0", "status": "paid", "total": n},
            "changed": ["status"],
            "rules": ["status-changed", "big-order"],
            "approximate_creation": "2026-11-27T21:00:00Z",
        }
        message = json.dumps(body, separators=(",", ":"))
        message += " " * max(0, 600 - len(message))
        out.append(
            {
                "Id": f"m{i}",
                "Message": message,
                "Subject": "DynamoDB MODIFY on orders",
                "MessageAttributes": {
                    "eventName": {"DataType": "String", "StringValue": "MODIFY"},
                    "tableName": {"DataType": "String", "StringValue": "orders"},
                    "ttlExpiry": {"DataType": "String", "StringValue": "false"},
                    "rules": {
                        "DataType": "String.Array",
                        "StringValue": '["status-changed","big-order"]',
                    },
                    "status": {"DataType": "String", "StringValue": "shipped"},
                },
            }
        )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--threads", type=int, default=10)
    p.add_argument(
        "--calls",
        type=int,
        default=0,
        help="instead of --seconds: rounds of this many calls (100: the 1,000-change backlog of "
        "make bench-e2e), each drained by the inbox before the next",
    )
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--profile", type=Path, default=None)
    args = p.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from botocore.config import Config
    from spy import cpu_seconds

    from ddbstream.local import clients

    with tempfile.TemporaryDirectory() as state:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, state],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdin is not None and server.stdout is not None
        try:
            info = json.loads(server.stdout.readline())
            sns = clients.client(
                "sns",
                info["endpoint"],
                config=Config(max_pool_connections=args.threads, retries={"max_attempts": 1}),
            )
            sns.publish_batch(TopicArn=info["topic"], PublishBatchRequestEntries=entries(0))
            time.sleep(1.0)  # warm: the inbox, moto's lazy imports, the signing key
            spy = None
            if args.profile is not None:
                spy = subprocess.Popen(
                    [
                        str(Path(sys.executable).with_name("py-spy")),
                        "record",
                        "--pid",
                        str(server.pid),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--nonblocking",
                        "--gil",  # only the thread holding the GIL: where the CPU goes
                        "-o",
                        str(args.profile),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            calls = [0]
            failed = [0]
            lock = threading.Lock()
            stop = time.monotonic() + args.seconds
            limit = [args.calls or 1 << 62]

            def publish() -> None:
                while time.monotonic() < stop or args.calls:
                    with lock:
                        if calls[0] >= limit[0]:
                            return
                        calls[0] += 1
                        n = calls[0]
                    resp = sns.publish_batch(
                        TopicArn=info["topic"], PublishBatchRequestEntries=entries(n)
                    )
                    if len(resp.get("Successful", [])) != 10:
                        failed[0] += 1

            cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
            published = 0.0
            for _ in range(args.rounds if args.calls else 1):
                r0 = time.monotonic()
                threads = [threading.Thread(target=publish) for _ in range(args.threads)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                published += time.monotonic() - r0
                expected = (calls[0] + 1) * 10
                while True:
                    server.stdin.write("count\n")
                    server.stdin.flush()
                    got = json.loads(server.stdout.readline())["received"]
                    if got >= expected:
                        break
                    time.sleep(0.02)
                limit[0] += args.calls
            drained = time.monotonic() - t0
            cpu = cpu_seconds(server.pid) - cpu0
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
            print(
                json.dumps(
                    {
                        "calls": calls[0],
                        "failed": failed[0],
                        "publish_batch_per_s": round(calls[0] / published, 1),
                        "drained_s": round(drained, 2),
                        "notifications_per_s_drained": round(calls[0] * 10 / drained, 1),
                        "server_cpu_ms_per_call": round(cpu * 1000 / calls[0], 2),
                        "received": got,
                    }
                )
            )
        finally:
            server.stdin.write("stop\n")
            server.stdin.flush()
            server.wait(60)


if __name__ == "__main__":
    main()
