"""HTTP proxies the tests put in front of real services, for what the services alone cannot show.

- `Proxy(target, stall="/stall/")` forwards every request to `target` (moto server), except
  that a GET whose path holds `stall` waits until `release()`: a job held in the middle of its
  work, deterministically, so a test can stop it, let its MaxRuntimeInSeconds pass, or kill the
  process running it.
- `Proxy(target, asynchronous_invoke=True)` gives `cargo lambda watch`'s Invoke API what it
  lacks: Lambda answers an `X-Amz-Invocation-Type: Event` invocation with 202 as soon as it has
  queued the event; cargo lambda waits for the function's answer. The proxy answers 202 at once
  and delivers the invocation in the background, as Lambda does.

- `Proxy(target, invoke_target=url)` sends Lambda's Invoke API (`/2015-03-31/functions/...`) to
  `invoke_target` (`cargo lambda watch`) instead, a function's ARN turned into its plain name
  (`arn:aws:lambda:...:function:modelmon-baseline` to `baseline`: the emulator knows only
  names), and a function's error answered as Lambda answers it (200 and X-Amz-Function-Error,
  where the emulator gives an HTTP error): moto's Step Functions invokes Lambda at the one
  endpoint it also lists S3 at. An invocation whose event `hang(body)` picks (set by a test)
  gets no answer until `release()`: a child that hangs, for its task's TimeoutSeconds to end.

Requests and answers pass through unchanged otherwise (the Host header too, so signatures stay
valid); a chunked request body is forwarded with its length.
"""

import http.client
import http.server
import threading
from urllib.parse import unquote, urlparse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


class Proxy:
    def __init__(self, target, stall=None, asynchronous_invoke=False, invoke_target=None):
        parsed = urlparse(target)
        self.target = (parsed.hostname, parsed.port)
        self.invoke_target = None
        if invoke_target:
            parsed = urlparse(invoke_target)
            self.invoke_target = (parsed.hostname, parsed.port)
        self.stall = stall
        self.hang = None
        self.hung = []  # the bodies of the invocations held back
        self.asynchronous_invoke = asynchronous_invoke
        self.released = threading.Event()
        self.reached = threading.Event()
        # What became of the invocations delivered in the background: (status, body) or the error.
        self.deliveries = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    proxy.handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (a killed function, a stopped server)

            do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self):
        self.released.set()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    # -- forwarding -----------------------------------------------------------------------------

    def handle(self, request):
        body = read_body(request)
        if self.stall and request.command == "GET" and self.stall in request.path:
            self.reached.set()
            self.released.wait()
        event = request.headers.get("X-Amz-Invocation-Type") == "Event"
        if self.asynchronous_invoke and event and "/invocations" in request.path:
            headers = without_hop_by_hop(request.headers.items())
            threading.Thread(target=self.deliver, args=(request.path, headers, body), daemon=True).start()
            request.send_response(202)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        target, path = self.target, request.path
        invoke = bool(self.invoke_target and path.startswith(INVOKE_PATH))
        if invoke:
            target, path = self.invoke_target, function_by_name(path)
            if self.hang and self.hang(body):
                self.hung.append(body)
                self.reached.set()
                self.released.wait()
                return  # no answer: the caller has given up by now
        status, reason, headers, answer = self.forward(
            request.command, path, without_hop_by_hop(request.headers.items()), body, target
        )
        if invoke and status >= 400 and b'"errorType"' in answer:
            # Lambda answers a function's error with 200 and X-Amz-Function-Error; the emulator
            # with an HTTP error, which moto's Step Functions cannot read.
            status, reason = 200, "OK"
            headers = [(n, v) for n, v in headers if n.lower() != "content-type"]
            headers += [("Content-Type", "application/json"), ("X-Amz-Function-Error", "Unhandled")]
        request.send_response(status, reason)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(answer)

    def deliver(self, path, headers, body):
        """One asynchronous invocation: its answer is nobody's (as with Lambda), but kept."""
        try:
            status, _, _, answer = self.forward("POST", path, headers, body)
            self.deliveries.append((status, answer))
        except (OSError, http.client.HTTPException) as err:
            # The function was killed, or the emulator stopped, while it ran.
            self.deliveries.append(err)

    def forward(self, method, path, headers, body, target=None):
        connection = http.client.HTTPConnection(*(target or self.target), timeout=600)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() != "content-length":
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            answer = response.read()
            kept = [(n, v) for n, v in response.getheaders() if n.lower() not in HOP_BY_HOP | {"content-length"}]
            return response.status, response.reason, kept, answer
        finally:
            connection.close()


INVOKE_PATH = "/2015-03-31/functions/"


def function_by_name(path):
    """`/2015-03-31/functions/<ARN>/invocations` with the function's name in the emulator (the
    ARN's name less a `modelmon-` stack prefix)."""
    function, _, rest = path[len(INVOKE_PATH):].partition("/")
    name = unquote(function).rsplit(":function:", 1)[-1].split(":")[0]
    return f"{INVOKE_PATH}{name.removeprefix('modelmon-')}/{rest}"


def read_body(request):
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(request.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while request.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(request.rfile.read(size))
            request.rfile.readline()
    length = int(request.headers.get("Content-Length") or 0)
    return request.rfile.read(length) if length else b""


def without_hop_by_hop(headers):
    return [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP]
