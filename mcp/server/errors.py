"""JSON-RPC error codes the endpoint answers with, and the exception that carries one to the transport."""

from __future__ import annotations

from typing import Any

# JSON-RPC 2.0.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# MCP 2026-07-28.
HEADER_MISMATCH = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022
# This server's own, in the range JSON-RPC leaves to servers; the HTTP status says the same.
UNAUTHORIZED = -32001
INSUFFICIENT_SCOPE = -32003
RATE_LIMITED = -32029

# The HTTP status of an error of the 2026-07-28 era (streamable-http transport); 2025 clients get JSON-RPC
# errors of a dispatched request in a 200, as the 2025 servers answered them.
MODERN_HTTP_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    MISSING_REQUIRED_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}
# Errors about the message or the transport rather than the method: 400 in either era.
TRANSPORT_ERRORS = frozenset({PARSE_ERROR, INVALID_REQUEST, HEADER_MISMATCH, UNSUPPORTED_PROTOCOL_VERSION})


class McpError(Exception):
    """A request refused with a JSON-RPC error (malformed, unknown, or missing what it names)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def error_object(self) -> dict[str, Any]:
        """Return the JSON-RPC error object."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(message: str, **data: Any) -> McpError:
    """Return the error of a request whose params are wrong (-32602)."""
    return McpError(INVALID_PARAMS, message, data or None)
