"""The local stack: ``ddbstream up``, ``down``, ``env`` and ``output``.

``up`` starts moto's server in this process on a loopback port, builds the Lambda package, runs
``terraform apply`` of ``terraform/`` against the emulator with a local state kept in the state
directory (default ``.ddbstream/`` in the project: a local run never reads or writes a real
deployment's state), then starts the local Lambda runtime, which runs the event source mappings
that Terraform created. It serves until Ctrl-C or ``ddbstream down``.

The modules, by responsibility:

- :mod:`.state`      the state directory: its files, the outputs of the last apply, StackError;
- :mod:`.process`    whether a stack runs (pid, health check, the ``up`` lock), child processes;
- :mod:`.ports`      which port the emulator takes;
- :mod:`.progress`   Terraform's output as short progress lines;
- :mod:`.lifecycle`  :class:`LocalStack`: start, restore/reset the saved state, stop and save;
- :mod:`.serve`      serving until a signal, ``up --detach``, stopping a stack from outside;
- :mod:`.commands`   the CLI verbs that present all this (``cmd_up`` ...).

The names other modules use are importable from here.
"""

from .lifecycle import LOCAL_VARIABLES, LocalStack
from .ports import choose_port
from .process import (
    current_outputs,
    current_values,
    endpoint_healthy,
    find_running,
    lock_held,
    pid_alive,
    require_running,
)
from .progress import TerraformProgress
from .serve import start_detached, stop_stack
from .state import (
    JOURNAL_FILE,
    LOG_FILE,
    OUTPUTS_FILE,
    RUNTIME_DIR,
    SNAPSHOT_FILE,
    STATE_FILE,
    TERRAFORM_DIR,
    WALKTHROUGH_OUTPUTS,
    StackError,
    output_values,
    project_root,
    read_outputs,
    read_state,
    refresh_endpoint_urls,
    state_dir_flag,
    state_dir_of,
)

__all__ = [
    "JOURNAL_FILE",
    "LOCAL_VARIABLES",
    "LOG_FILE",
    "OUTPUTS_FILE",
    "RUNTIME_DIR",
    "SNAPSHOT_FILE",
    "STATE_FILE",
    "TERRAFORM_DIR",
    "WALKTHROUGH_OUTPUTS",
    "LocalStack",
    "StackError",
    "TerraformProgress",
    "choose_port",
    "current_outputs",
    "current_values",
    "endpoint_healthy",
    "find_running",
    "lock_held",
    "output_values",
    "pid_alive",
    "project_root",
    "read_outputs",
    "read_state",
    "refresh_endpoint_urls",
    "require_running",
    "start_detached",
    "state_dir_flag",
    "state_dir_of",
    "stop_stack",
]
