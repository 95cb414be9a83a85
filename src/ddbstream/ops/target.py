"""Which deployment an operations verb works on: the local stack, or one Terraform applied.

A verb adds the target flags to its parser with :func:`add_target_arguments` and gets a
:class:`Deployment` from the parsed arguments with :func:`resolve`:

* by default, the local stack (``ddbstream up``) of the state directory (``--state-dir``, else
  ``$DDBSTREAM_STATE_DIR``, else ``.ddbstream/`` in the project): its outputs of the last apply,
  its emulator's endpoint, dummy credentials;
* ``--terraform-dir DIR``: a deployment applied from DIR; its outputs come from ``terraform
  output -json`` run there, and boto3 takes credentials, profile and region from the usual
  places (``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ``~/.aws``...). The region
  defaults to the one in the topic's ARN when none is configured.
* ``--function-name NAME``: a deployment on AWS named by its stream processor function, without
  Terraform (explicit names): the outputs are derived from the function's configuration and its
  event source mapping (:func:`from_function`); the usual AWS settings as above.

Every failure to find the target (no stack running, a directory that is not there, no outputs)
is a :class:`~ddbstream.errors.UserError` naming the problem.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddbstream.errors import UserError

#: The Terraform outputs (terraform/outputs.tf) the typed accessors read.
TABLE_NAME = "dynamodb_table_name"
STREAM_ARN = "dynamodb_stream_arn"
BUCKET_NAME = "s3_bucket_name"
AUDIT_PREFIX = "audit_prefix"
TOPIC_ARN = "sns_topic_arn"
DLQ_URL = "dlq_url"
FUNCTION_NAME = "lambda_function_name"
LOG_GROUP = "lambda_log_group_name"
MAPPING_UUID = "event_source_mapping_uuid"

TERRAFORM_TIMEOUT_S = 120


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--state-dir DIR`` / ``--terraform-dir DIR`` / ``--function-name NAME`` (one of
    them) to ``parser``."""
    group = parser.add_argument_group(
        "target", "which deployment (default: the local stack of `ddbstream up`)"
    )
    one = group.add_mutually_exclusive_group()
    one.add_argument(
        "--state-dir",
        default=None,
        metavar="DIR",
        help="the local stack's state directory (default: $DDBSTREAM_STATE_DIR, else "
        ".ddbstream/ in the project)",
    )
    one.add_argument(
        "--terraform-dir",
        default=None,
        metavar="DIR",
        help="a deployment on AWS: read its outputs with `terraform output -json` in DIR; "
        "credentials, profile and region come from the usual AWS settings (AWS_PROFILE, "
        "AWS_REGION, ...)",
    )
    one.add_argument(
        "--function-name",
        default=None,
        metavar="NAME",
        help="a deployment on AWS named by its stream processor function (name or ARN), "
        "without Terraform: bucket, topic and prefixes come from the function's environment, "
        "the stream, table and DLQ (or failed-batches bucket) from its event source mapping",
    )


@dataclass
class Deployment:
    """A deployed stack: its Terraform outputs (``{name: value}``) and how to reach it."""

    outputs: dict[str, Any]
    source: str  # what it is, for messages: "the local stack in DIR", "Terraform in DIR"
    is_local: bool = False
    endpoint: str | None = None  # None: boto3's own (AWS, or AWS_ENDPOINT_URL)
    region: str | None = None  # None: boto3's own configuration
    state_dir: Path | None = None
    terraform_dir: Path | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _session: Any = field(default=None, repr=False)

    def output(self, name: str) -> Any:
        """The value of output ``name``; a UserError naming the known ones when missing."""
        if name not in self.outputs or self.outputs[name] is None:
            known = ", ".join(sorted(self.outputs)) or "none"
            raise UserError(f'{self.source} has no output "{name}" (its outputs: {known})')
        return self.outputs[name]

    @property
    def table_name(self) -> str:
        return str(self.output(TABLE_NAME))

    @property
    def stream_arn(self) -> str:
        return str(self.output(STREAM_ARN))

    @property
    def bucket(self) -> str:
        return str(self.output(BUCKET_NAME))

    @property
    def audit_prefix(self) -> str:
        return str(self.outputs.get(AUDIT_PREFIX) or "audit-logs/")

    @property
    def topic_arn(self) -> str:
        return str(self.output(TOPIC_ARN))

    @property
    def dlq_url(self) -> str:
        return str(self.output(DLQ_URL))

    @property
    def function_name(self) -> str:
        return str(self.output(FUNCTION_NAME))

    @property
    def log_group(self) -> str:
        return str(self.output(LOG_GROUP))

    @property
    def mapping_uuid(self) -> str:
        return str(self.output(MAPPING_UUID))

    def session(self) -> Any:
        """The boto3 session the clients come from (one per deployment)."""
        if self._session is None:
            if self.is_local:
                from ddbstream.local import clients

                self._session = clients.session(self.region or clients.REGION)
            else:
                import boto3

                self._session = boto3.session.Session(region_name=self.region)
        return self._session

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` in this deployment (made once, then reused)."""
        if service not in self._clients:
            from botocore.config import Config

            config = Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=30,
            )
            self._clients[service] = self.session().client(
                service, endpoint_url=self.endpoint, config=config
            )
        return self._clients[service]


def resolve(args: argparse.Namespace) -> Deployment:
    """The deployment the target flags of ``args`` name (see the module docstring)."""
    terraform_dir = getattr(args, "terraform_dir", None)
    if terraform_dir:
        return from_terraform_dir(terraform_dir)
    function_name = getattr(args, "function_name", None)
    if function_name:
        return from_function(function_name)
    return from_local_stack(getattr(args, "state_dir", None))


def from_function(function: str) -> Deployment:
    """The deployment of stream processor ``function`` (name or ARN), read through AWS's APIs:
    the outputs a verb reads are derived from the function's configuration (``S3_BUCKET_NAME``,
    ``SNS_TOPIC_ARN``, ``AUDIT_PREFIX``, log group) and its DynamoDB event source mapping
    (stream, table, mapping UUID, on-failure destination: ``dlq_url`` for an SQS queue,
    ``failed_batches_bucket_name`` for an S3 bucket)."""
    from botocore.exceptions import ClientError

    region = None
    if function.startswith("arn:") and not _configured_region():
        region = function.split(":")[3] or None
    d = Deployment(
        outputs={},
        source=f"the function {function}",
        is_local=False,
        endpoint=os.environ.get("AWS_ENDPOINT_URL") or None,
        region=region,
    )
    lam = d.client("lambda")
    try:
        conf = lam.get_function_configuration(FunctionName=function)
        name = conf["FunctionName"]
        mappings = []
        kwargs: dict[str, Any] = {}
        while True:
            page = lam.list_event_source_mappings(**kwargs)
            mappings += [
                m
                for m in page.get("EventSourceMappings", [])
                if str(m.get("FunctionArn", "")).split(":function:")[-1].split(":")[0] == name
            ]
            if not page.get("NextMarker"):
                break
            kwargs["Marker"] = page["NextMarker"]
    except ClientError as exc:
        err = exc.response.get("Error", {})
        if err.get("Code") == "ResourceNotFoundException":
            raise UserError(f"--function-name {function}: no such function") from None
        why = f"{err.get('Code')}: {err.get('Message')}"
        raise UserError(f"--function-name {function}: {why}") from None
    env = (conf.get("Environment") or {}).get("Variables") or {}
    out: dict[str, Any] = {
        FUNCTION_NAME: name,
        "lambda_function_arn": conf["FunctionArn"],
        LOG_GROUP: (conf.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}",
        BUCKET_NAME: env.get("S3_BUCKET_NAME"),
        TOPIC_ARN: env.get("SNS_TOPIC_ARN"),
        AUDIT_PREFIX: env.get("AUDIT_PREFIX", "audit-logs/"),
    }
    stream = next((m for m in mappings if ":dynamodb:" in str(m.get("EventSourceArn"))), None)
    if stream is not None:
        arn = str(stream["EventSourceArn"])
        out[STREAM_ARN] = arn
        out[TABLE_NAME] = arn.partition(":table/")[2].split("/", 1)[0]
        out[MAPPING_UUID] = stream["UUID"]
        dest = ((stream.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        parts = str(dest or "").split(":")
        if len(parts) > 5 and parts[2] == "sqs":
            out["dlq_arn"] = dest
            out[DLQ_URL] = d.client("sqs").get_queue_url(
                QueueName=parts[5], QueueOwnerAWSAccountId=parts[4]
            )["QueueUrl"]
        elif len(parts) > 5 and parts[2] == "s3":
            out["failed_batches_bucket_name"] = parts[5]
    d.outputs = out
    return d


def from_local_stack(state_dir: str | os.PathLike[str] | None = None) -> Deployment:
    """The running local stack of ``state_dir`` (default: the project's)."""
    from ddbstream.local import clients
    from ddbstream.local import stack as local_stack

    sd = local_stack.state_dir_of(state_dir)
    if sd.exists() and not sd.is_dir():
        raise UserError(f"--state-dir {sd}: not a directory")
    state = local_stack.require_running(sd)
    endpoint = str(state["endpoint"])
    from ddbstream.local.emulator import require_loopback

    require_loopback(endpoint, "use the local stack")
    values = local_stack.output_values(sd)
    return Deployment(
        outputs=local_stack.refresh_endpoint_urls(values, endpoint),
        source=f"the local stack in {sd}",
        is_local=True,
        endpoint=endpoint,
        region=str(state.get("region") or clients.REGION),
        state_dir=sd,
    )


def from_terraform_dir(directory: str | os.PathLike[str]) -> Deployment:
    """The deployment applied from ``directory``: ``terraform output -json`` run there."""
    d = Path(directory).expanduser()
    if not d.exists():
        raise UserError(f"--terraform-dir {d}: no such directory")
    if not d.is_dir():
        raise UserError(f"--terraform-dir {d}: not a directory")
    binary = shutil.which("terraform")
    if binary is None:
        raise UserError("terraform is not on PATH: --terraform-dir needs it to read the outputs")
    try:
        proc = subprocess.run(
            [binary, f"-chdir={d}", "output", "-json", "-no-color"],
            capture_output=True,
            text=True,
            timeout=TERRAFORM_TIMEOUT_S,
            env={**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"},
        )
    except subprocess.TimeoutExpired:
        raise UserError(
            f"`terraform output -json` in {d} did not answer within {TERRAFORM_TIMEOUT_S}s"
        ) from None
    if proc.returncode != 0:
        raise UserError(f"`terraform output -json` failed in {d}: {_terraform_error(proc.stderr)}")
    try:
        found = json.loads(proc.stdout or "{}")
    except ValueError:
        raise UserError(f"`terraform output -json` in {d} printed something not JSON") from None
    if not isinstance(found, dict) or not found:
        raise UserError(
            f"no Terraform outputs in {d}: is it the directory you ran `terraform apply` in, "
            "and did the apply finish?"
        )
    values = {name: (item or {}).get("value") for name, item in found.items()}
    region = None
    if not _configured_region():
        region = _region_of(values)
    return Deployment(
        outputs=values,
        source=f"the deployment of {d}",
        is_local=False,
        endpoint=os.environ.get("AWS_ENDPOINT_URL") or None,
        region=region,
        terraform_dir=d.resolve(),
    )


def _terraform_error(stderr: str) -> str:
    """Terraform's first ``Error:`` line with what follows it, in one line."""
    lines = [ln.strip("│╷╵ \t") for ln in stderr.splitlines()]
    lines = [ln for ln in lines if ln]
    for i, ln in enumerate(lines):
        if ln.startswith("Error:"):
            return " ".join(lines[i : i + 2])
    return lines[-1] if lines else "no message"


def _configured_region() -> str | None:
    import boto3

    try:
        return boto3.session.Session().region_name  # type: ignore[no-any-return]
    except Exception:  # a missing profile: boto3 will say so when a client is made
        return None


def _region_of(values: dict[str, Any]) -> str | None:
    """The region in the first ARN among the outputs (arn:aws:SERVICE:REGION:...)."""
    for value in values.values():
        if isinstance(value, str) and value.startswith("arn:"):
            parts = value.split(":")
            if len(parts) > 3 and parts[3]:
                return parts[3]
    return None
