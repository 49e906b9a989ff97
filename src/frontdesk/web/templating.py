"""Jinja2 pages: one ``render`` that every page handler uses."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from frontdesk.web.sessions import clear_cookie, cookie_name, set_cookie

TEMPLATES = Path(__file__).with_name("templates")
FLASH = "frontdesk_flash"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _state(request: Request) -> Any:
    return request.app.state.frontdesk


def flash(request: Request, response: Response, message: str) -> None:
    """Show ``message`` on the next page this browser renders on this host."""
    st = _state(request)
    encoded = base64.urlsafe_b64encode(message.encode()).decode()
    value = f"{st.server_secret.mac('flash|' + encoded)}.{encoded}"
    set_cookie(st.settings, response, cookie_name(st.settings, FLASH), value, max_age=60)


def _take_flash(request: Request) -> str | None:
    st = _state(request)
    raw = request.cookies.get(cookie_name(st.settings, FLASH))
    if not raw or "." not in raw:
        return None
    mac, _, encoded = raw.partition(".")
    if not hmac.compare_digest(mac, st.server_secret.mac("flash|" + encoded)):
        return None
    return base64.urlsafe_b64decode(encoded.encode()).decode()


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    st = _state(request)
    message = _take_flash(request)
    ctx: dict[str, Any] = {
        "request": request,
        "site": request.state.site,
        "user": getattr(request.state, "user", None),
        "settings": st.settings,
        "csrf_token": lambda purpose="form": st.csrf.token(request, purpose),
        "flash": message,
        "errors": {},
        "values": {},
    }
    ctx.update(context or {})
    html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers.setdefault("Cache-Control", "no-store")
    st.csrf.persist(request, response)
    if message is not None:
        clear_cookie(st.settings, response, cookie_name(st.settings, FLASH))
    return response
