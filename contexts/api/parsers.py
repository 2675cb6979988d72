"""The API's one body parser: DRF's JSON parser, with nesting too deep to parse refused as malformed JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """Parse a JSON body; a body nested deeper than Python's parser can follow is a 400, not a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json.load recurses once per level: [[[[…]]]] a few thousand deep, which fits in any body the
            # API accepts, exhausts the interpreter's stack before it ends.
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
