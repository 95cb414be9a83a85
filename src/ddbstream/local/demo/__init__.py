"""``ddbstream demo``: the seed README's "Testing the Infrastructure" walkthrough, locally.

Brings the local stack up (``ddbstream up --detach``) or reuses the running one, then:

1. Insert test data      -- the seed's put-item (a LOGIN activity of test-user-001);
2. Verify processing     -- the ``Processing`` lines in the function's log group, the audit
                            object under ``audit-logs/`` holding the change, and the notification,
                            read back through an SQS queue the demo subscribes to the SNS topic;
3. Test error handling   -- the seed's test: the function's environment replaced by
                            ``SNS_TOPIC_ARN=invalid-arn`` and ``S3_BUCKET_NAME`` only, an item put,
                            the failed batch's record (DDBStreamBatchInfo) awaited in the DLQ and
                            matched to the stream record it points at, the configuration restored;
4. Activity burst        -- ``--burst N`` generated changes (inserts, updates, deletes), with a
                            progress bar of the changes found in the audit log.

Then a summary: each step with what it verified (✔/✘ and figures) and where the time went.
Every item the demo writes carries a run id, so runs against the same stack do not mix.
Exits 1 when a step failed.

The modules: :mod:`.walkthrough` (the steps in order: ``Demo``, ``run_demo``, ``cmd_demo``),
:mod:`.actions` (the writes, each with the AWS CLI command shown for it), :mod:`.observe`
(reading and waiting for what the processor produced), :mod:`.report` (what is printed: steps,
checks, progress bar, summary).
"""

from .observe import AuditReader, Notifications
from .report import Printer, ProgressBar, Step
from .walkthrough import Demo, cmd_demo, run_demo

__all__ = [
    "AuditReader",
    "Demo",
    "Notifications",
    "Printer",
    "ProgressBar",
    "Step",
    "cmd_demo",
    "run_demo",
]
