#!/usr/bin/env python3
"""An HTTP sink standing in for Teams and generic webhooks in arshjul's tests.

Usage: webhook_sink.py OUT_DIR [RESPONSE ...]
Binds 127.0.0.1 on a free port and prints it. Every POST is recorded as OUT_DIR/NNNN.json
({"path", "headers", "body"}), written atomically. The responses are used in order, the last
one repeating; each is STATUS, STATUS:RETRY_AFTER (seconds), STATUS:RETRY_AFTER@DELAY (that
answer after DELAY seconds, a peer that answers late) or sleep:SECONDS (answer 200 after
sleeping, to provoke client timeouts). Default: 200.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

out = sys.argv[1]
responses = sys.argv[2:] or ["200"]
os.makedirs(out, exist_ok=True)
lock = threading.Lock()
count = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes; without this, Nagle's algorithm and delayed ACKs
    # stall every keep-alive response by 40 ms.
    disable_nagle_algorithm = True

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            count += 1
            n = count
            response = responses[min(n, len(responses)) - 1]
            record = {"path": self.path, "headers": dict(self.headers), "body": body.decode("utf-8", "replace")}
            tmp = os.path.join(out, f".{n:06d}.tmp")
            with open(tmp, "w") as f:
                json.dump(record, f)
            os.replace(tmp, os.path.join(out, f"{n:06d}.json"))
        status, retry_after = 200, None
        if response.startswith("sleep:"):
            time.sleep(float(response.split(":")[1]))
        elif ":" in response:
            response, _, delay = response.partition("@")
            status, retry_after = (int(x) for x in response.split(":"))
            time.sleep(float(delay or 0))
        else:
            status = int(response)
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"1")

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # The default backlog of 5 drops bursts of connections, which then wait a second to retry.
    request_queue_size = 256

    def handle_error(self, request, client_address):
        # A client killed mid-request (the crash tests do that) is expected, not news.
        pass


server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
