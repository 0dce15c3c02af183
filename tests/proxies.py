"""HTTP proxies the tests put in front of real services, for what the services alone cannot show.

- `Proxy(target, stall="/stall/")` forwards every request to `target` (moto server), except
  that a GET whose path holds `stall` waits until `release()`: a job held in the middle of its
  work, deterministically, so a test can stop it, let its MaxRuntimeInSeconds pass, or kill the
  process running it.
- `Proxy(target, asynchronous_invoke=True)` gives `cargo lambda watch`'s Invoke API what it
  lacks: Lambda answers an `X-Amz-Invocation-Type: Event` invocation with 202 as soon as it has
  queued the event; cargo lambda waits for the function's answer. The proxy answers 202 at once
  and delivers the invocation in the background, as Lambda does.

Requests and answers pass through unchanged otherwise (the Host header too, so signatures stay
valid); a chunked request body is forwarded with its length.
"""

import http.client
import http.server
import threading
from urllib.parse import urlparse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


class Proxy:
    def __init__(self, target, stall=None, asynchronous_invoke=False):
        parsed = urlparse(target)
        self.target = (parsed.hostname, parsed.port)
        self.stall = stall
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
        status, reason, headers, answer = self.forward(
            request.command, request.path, without_hop_by_hop(request.headers.items()), body
        )
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

    def forward(self, method, path, headers, body):
        connection = http.client.HTTPConnection(*self.target, timeout=600)
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
