"""A load process of the PgBouncer tests: send a list of requests in turn, report what came back as JSON on stdout.

    python tests/pooling_load.py SPEC.json

The spec names the server's port, how many rounds to send and the requests
(method, path, host, headers, body), each with the marker its tenant's rows
carry and the markers of the other tenant's. A response that carries another
tenant's marker is a leak; one that lacks its own is reported too (a read in
the wrong schema may find nothing). Only the standard library: it runs beside
the server, not inside Django.
"""

from __future__ import annotations

import http.client
import json
import sys
from collections import Counter
from typing import Any


def send(port: int, request: dict[str, Any]) -> tuple[int, bytes]:
    """One request on a new connection to 127.0.0.1 (gunicorn's sync workers close each one)."""
    body = request.get("body")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(request["method"], request["path"], body=body.encode() if body is not None else None,
                     headers={"Host": request["host"], **request.get("headers", {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Send every request of the spec, rounds times, in order; count statuses, leaks and missing rows."""
    statuses: Counter[str] = Counter()
    leaks: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    sent = 0
    for _ in range(spec["rounds"]):
        for request in spec["requests"]:
            status, body = send(spec["port"], request)
            sent += 1
            statuses[f"{request['name']} {status}"] += 1
            text = body.decode(errors="replace")
            foreign = [marker for marker in request["foreign"] if marker in text]
            if foreign:
                leaks.append({"request": request["name"], "host": request["host"], "status": status,
                              "foreign": foreign, "excerpt": text[:300]})
            elif status == 200 and request["own"] not in text:
                title = text.partition("<title>")[2].partition("</title>")[0]  # which page an HTML answer is
                missing.append({"request": request["name"], "host": request["host"], "excerpt": title or text[:300]})
    return {"sent": sent, "statuses": dict(statuses), "leaks": leaks, "missing": missing}


if __name__ == "__main__":
    with open(sys.argv[1]) as spec_file:
        print(json.dumps(run(json.load(spec_file))))
