"""A local HTTP server that speaks the chat-completions protocol, standing in for a hosted LLM.

Each request is answered by the next step of its script (then by `default`):
"answer" (a summary made from the document), "hold" (wait until released, then
answer), "empty" (a completion with no text), "garbage" (not JSON), or an HTTP
status (500, 401, 429 …) with an OpenAI-style error body.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ChatCompletionsServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[str | int] = []
        self.default: str | int = "answer"
        self.release = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.requests.append({"path": self.path, "body": body, "headers": {k.lower(): v for k, v in self.headers.items()}})
                    step = server.script.pop(0) if server.script else server.default
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"No route {self.path}", "type": "not_found"}})
                if step == "hold":
                    server.release.wait(60)
                    step = "answer"
                if isinstance(step, int):
                    return self._send(step, {"error": {"message": f"Simulated failure {step}", "type": "server_error"}})
                if step == "garbage":
                    return self._send_raw(200, b"<html>not json</html>", "text/html")
                document = body["messages"][-1]["content"]
                text = "" if step == "empty" else "Summary: " + " ".join(document.split()[:12])
                return self._send(200, {
                    "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "unknown"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": len(document.split()), "completion_tokens": len(text.split()),
                              "total_tokens": len(document.split()) + len(text.split())},
                })

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self._send_raw(status, json.dumps(payload).encode(), "application/json")

            def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away (timed out, or was killed)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> ChatCompletionsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
