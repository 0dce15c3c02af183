"""The scripts function: a user's record preprocessor or post-analytics processor, run by the
analyze and baseline functions with one synchronous invocation per batch of records.

The event is a request of runner.py's protocol; the answer goes back as the JSON bytes the
runner makes (bytes are returned as they are, so the size the runner budgets is the size sent).
The function holds no AWS permission beyond its logs: the records come in the event, the reports
a post-analytics processor reads come as presigned URLs, and its files go back in the answer.
"""

import os

import runner

# The environment at start-up: each request sees it plus its job's Environment, nothing that an
# earlier request (another job's) set.
BASE_ENVIRONMENT = dict(os.environ)


def lambda_handler(event, context):
    base = dict(BASE_ENVIRONMENT)
    # Set by the runtime for each invocation (X-Ray's trace of this one).
    if "_X_AMZN_TRACE_ID" in os.environ:
        base["_X_AMZN_TRACE_ID"] = os.environ["_X_AMZN_TRACE_ID"]
    return runner.handle(event, base)
