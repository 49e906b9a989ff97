"""Jinja2 pages: one ``render`` that every page handler uses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from frontdesk import i18n
from frontdesk.web.middleware import PAGE_CSP
from frontdesk.web.sessions import clear_cookie, cookie_name, set_cookie

TEMPLATES = Path(__file__).with_name("templates")
FLASH = "frontdesk_flash"


@lru_cache(maxsize=16)
def environment(locale: str = i18n.DEFAULT) -> Environment:
    """The templates in ``locale``: one environment per language, with Jinja2's i18n extension
    and that language's catalogue (``{% trans %}``, ``_()``)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # {% trans %} blocks' whitespace collapsed, as babel.cfg extracts them.
    environment.policies["ext.i18n.trimmed"] = True
    environment.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return environment


env = environment()


def languages(request: Request) -> tuple[str, ...]:
    return i18n.parse_languages(_state(request).settings.languages)


def _ui_locales(request: Request, next_url: str | None) -> list[str]:
    """``ui_locales`` of the authorization request this page belongs to (OIDC Core §3.1.2.1):
    on /oauth/authorize itself, or the login and consent pages carrying it as ``next``."""
    value = request.query_params.get("ui_locales")
    if value is None:
        target = next_url or request.query_params.get("next") or ""
        parts = urlsplit(target)
        if parts.path == "/oauth/authorize" and not parts.netloc:
            value = next(iter(parse_qs(parts.query).get("ui_locales", [])), None)
    return value.split()[:10] if value else []


def locale_of(request: Request, next_url: str | None = None) -> str:
    """The language of the page: the chooser's cookie, else the authorization request's
    ``ui_locales``, else ``Accept-Language``, else English."""
    cached = getattr(request.state, "locale", None)
    if cached is not None and next_url is None:
        return str(cached)
    found = (
        chosen_locale(request)
        or i18n.pick(_ui_locales(request, next_url), languages(request))
        or browser_locale(request)
    )
    request.state.locale = found
    return found


def chosen_locale(request: Request) -> str | None:
    """The language this browser chose on this host with the chooser (its cookie), if offered."""
    cookie = request.cookies.get(cookie_name(_state(request).settings, i18n.COOKIE), "")
    return cookie if cookie in languages(request) else None


def browser_locale(request: Request) -> str:
    """The language the browser's own ``Accept-Language`` picks, else English."""
    header = request.headers.get("accept-language", "")
    return i18n.pick(i18n.accept_language(header), languages(request)) or i18n.DEFAULT


def gettext(request: Request, message: str) -> str:
    """``message`` (an English msgid, e.g. a ``FieldError`` message) in the page's language."""
    return i18n.gettext(locale_of(request), message)


def _state(request: Request) -> Any:
    return request.app.state.frontdesk


def flash(request: Request, response: Response, message: str) -> None:
    """Show ``message`` on the next page this browser renders on this host. An English msgid
    is translated when shown; one with values (an ``i18n.Text``) now, into this page's language,
    as the cookie carries text only."""
    st = _state(request)
    if isinstance(message, i18n.Text):
        message = gettext(request, message)
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


def _translated_errors(locale: str, errors: Any) -> Any:
    """Form errors (English ``FieldError`` messages, msgids) in the page's language."""
    if not isinstance(errors, Mapping):
        return errors
    return {
        key: i18n.gettext(locale, text) if isinstance(text, str) else text for key, text in errors.items()
    }


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
        # Shown on error pages as "Reference: …" (web/request_id.py), to find the request in the logs.
        "request_id": getattr(request.state, "request_id", None),
    }
    ctx.update(context or {})
    next_url = ctx.get("next")
    # ``page_locale``: a page that exists in one language only (the API reference, English).
    locale = ctx.get("page_locale") or locale_of(
        request, next_url if isinstance(next_url, str) and next_url else None
    )
    # Notices and form errors are English msgids (i18n.N_), shown in the page's language.
    ctx["flash"] = i18n.gettext(locale, message) if message is not None else None
    ctx["errors"] = _translated_errors(locale, ctx["errors"])
    ctx["locale"] = locale
    ctx["html_lang"] = i18n.html_lang(locale)
    ctx["languages"] = [(code, i18n.display_name(code)) for code in languages(request)]
    html = environment(locale).get_template(template).render(ctx)
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
        {
            "site": None,
            "user": None,
            "flash": None,
            "errors": {},
            "values": {},
            "stylesheet": css,
            "locale": i18n.DEFAULT,
            "html_lang": "en",
            "languages": [],
        }
    )
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    csp = PAGE_CSP.replace("style-src 'self'", f"style-src 'sha256-{digest}'")
    return html, csp
