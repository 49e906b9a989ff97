"""Jinja2 pages: one ``render`` that every page handler uses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from frontdesk.web.middleware import PAGE_CSP
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


def unknown_host_page(stylesheet: Path) -> tuple[str, str]:
    """The page for a host Frontdesk does not serve, and its Content-Security-Policy. Rendered
    once: it names no site and no person. Nothing on an unknown host reaches the application
    (web/hosts.py), /static included, so the page carries the stylesheet inline (comments
    dropped) and its CSP allows exactly that style element by its SHA-256 hash instead of
    'self'."""
    css = re.sub(r"/\*.*?\*/", "", stylesheet.read_text(), flags=re.S).strip()
    html = env.get_template("unknown_host.html").render(
        {"site": None, "user": None, "flash": None, "errors": {}, "values": {}, "stylesheet": css}
    )
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    csp = PAGE_CSP.replace("style-src 'self'", f"style-src 'sha256-{digest}'")
    return html, csp
