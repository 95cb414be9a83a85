"""Cold start: the handler module's import time and the first invocation's time, each in a fresh
Python process (nothing imported or cached before), next to a warm invocation of the same batch.

The first invocation includes what a Lambda cold start runs in the handler: importing boto3
(the handler module itself imports only the standard library and the processor), reading the
settings, creating the S3 and SNS clients (botocore loads its service models) and processing
the batch; the clients are answered by the latency model, as in the latency section.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
import ddbstream.handler as handler
t_import = time.perf_counter() - t0
from batch import make_batch  # test data, outside the timed parts
event = {"Records": make_batch(int(sys.argv[1]))}
t1 = time.perf_counter()
from ddbstream.adapters import aws  # imports boto3: part of the cold start
from stub_aws import LatencyModel
model = LatencyModel(float(sys.argv[2]), float(sys.argv[3]))
def client(service, **kw):
    c = model.client(service, aws.CONFIG)
    aws.prepare_client(c)
    return c
aws.client = client
from ddbstream.log import logger
import io
logger.redirect(io.StringIO())
class Ctx:
    function_name = "bench"; memory_limit_in_mb = "256"; aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 60000
out = handler.lambda_handler(event, Ctx())
t_first = time.perf_counter() - t1
assert not out["batchItemFailures"], out
t2 = time.perf_counter()
handler.lambda_handler(event, Ctx())
t_warm = time.perf_counter() - t2
print(json.dumps({"import_ms": t_import * 1000, "first_ms": t_first * 1000,
                  "warm_ms": t_warm * 1000}))
"""


def measure(batch: int, s3_ms: float, sns_ms: float, runs: int) -> dict[str, float]:
    env = {
        **os.environ,
        "SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench-notifications",
        "S3_BUCKET_NAME": "bench-audit-bucket",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path]),
    }
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(batch), str(s3_ms), str(sns_ms)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def section(s3_ms: float, sns_ms: float, runs: int = 5, batch: int = 100) -> None:
    m = measure(batch, s3_ms, sns_ms, runs)
    print(f"Cold start (median of {runs} fresh processes, {batch}-change batch, latency model)")
    print(
        f"  import ddbstream.handler: {m['import_ms']:.0f} ms (standard library + the "
        "processor; boto3 is imported on the first invocation)"
    )
    print(
        f"  first invocation: {m['first_ms']:.0f} ms (import boto3, settings, 2 clients, the "
        f"batch) vs a warm one: {m['warm_ms']:.0f} ms; cold start adds "
        f"{m['first_ms'] - m['warm_ms']:.0f} ms"
    )
