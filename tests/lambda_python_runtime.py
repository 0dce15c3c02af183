"""Runs a Python Lambda function under the Lambda runtime API as AWS's Python runtimes do: with
awslambdaric's bootstrap (loading the handler, unmarshalling events, the context object, error
reports), its C HTTP client replaced by http.client.

Why the replacement: awslambdaric 4.2.2's C client crashes (SIGSEGV) on a `next` answer without
a Content-Type header, and cargo lambda's runtime emulator sends none (AWS's runtime API does).
Everything above the HTTP calls is awslambdaric's own code.

    cd functions/scripts && AWS_LAMBDA_RUNTIME_API=127.0.0.1:9000/.rt/scripts \\
        python tests/lambda_python_runtime.py handler.lambda_handler
"""

import http.client
import json
import os
import sys

# The function's code folder, as LAMBDA_TASK_ROOT is on Lambda.
sys.path.insert(0, os.getcwd())

import awslambdaric.lambda_runtime_client as lambda_runtime_client  # noqa: E402
from awslambdaric.__main__ import main  # noqa: E402

HEADERS = (
    "Lambda-Runtime-Aws-Request-Id",
    "Lambda-Runtime-Trace-Id",
    "Lambda-Runtime-Invoked-Function-Arn",
    "Lambda-Runtime-Deadline-Ms",
    "Lambda-Runtime-Client-Context",
    "Lambda-Runtime-Cognito-Identity",
    "Lambda-Runtime-Aws-Tenant-Id",
    "Lambda-Runtime-Invocation-Id",
)


class RuntimeClient:
    """The functions of awslambdaric's C `runtime_client` module, over http.client."""

    def __init__(self, address):
        host, _, path = address.partition("/")
        self.host = host
        self.prefix = "/" + path if path else ""

    def _request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection(self.host)
        connection.request(method, self.prefix + path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return response, data

    def initialize_client(self, user_agent):
        pass

    def next(self):
        response, body = self._request("GET", "/2018-06-01/runtime/invocation/next")
        headers = {name: response.getheader(name) for name in HEADERS if response.getheader(name)}
        headers["Content-Type"] = response.getheader("Content-Type") or "application/json"
        return body, headers

    def post_invocation_result(self, invoke_id, result, content_type, invocation_id=None):
        self._request(
            "POST",
            f"/2018-06-01/runtime/invocation/{invoke_id}/response",
            body=result,
            headers={"Content-Type": content_type},
        )

    def post_error(self, invoke_id, error_response, xray_fault, invocation_id=None):
        error_type = json.loads(error_response).get("errorType", "Unhandled")
        self._request(
            "POST",
            f"/2018-06-01/runtime/invocation/{invoke_id}/error",
            body=error_response.encode(),
            headers={"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type},
        )


if __name__ == "__main__":
    lambda_runtime_client.runtime_client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    main(sys.argv)
