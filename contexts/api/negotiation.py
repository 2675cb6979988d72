"""DRF's content negotiation, answering the Accept headers nearly every client sends without parsing them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request


class ContentNegotiation(DefaultContentNegotiation):
    """DefaultContentNegotiation, with its own answer for a sole renderer and no Accept, */* or that renderer's type.

    Those are nearly every API request, and DRF parses the header and ranks
    its media types each time (some 30 µs of a read by key). Anything else
    (another Accept, ?format=, several renderers) goes through DRF's rules.
    """

    def select_renderer(self, request: Request, renderers: Iterable[Any], format_suffix: str | None = None) -> Any:
        if isinstance(renderers, list) and len(renderers) == 1 and format_suffix is None:  # DRF hands a list
            renderer = renderers[0]
            if (request.META.get("HTTP_ACCEPT", "*/*") in ("*/*", renderer.media_type)
                    and self.settings.URL_FORMAT_OVERRIDE not in request.query_params):
                return renderer, renderer.media_type  # what DRF answers to these
        return super().select_renderer(request, renderers, format_suffix)
