"""The relay's test player page and its ES modules (streams/web)."""

from __future__ import annotations

from importlib import resources
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, PlainTextResponse


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/player", response_class=HTMLResponse)
    async def player() -> str:
        return resources.files("streams.web").joinpath("player.html").read_text(encoding="utf-8")

    @api.get("/{module}.js", response_class=PlainTextResponse)
    async def web_module(module: Literal["whep", "mse", "playback"]) -> Response:
        """The player's ES modules (streams/web): whep.js imports mse.js for the fallback."""
        text = resources.files("streams.web").joinpath(f"{module}.js").read_text(encoding="utf-8")
        return Response(text, media_type="text/javascript")

    return api
