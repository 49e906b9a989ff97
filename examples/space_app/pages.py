"""HTML pages and their security headers.

Top-level pages may not be framed at all (``frame-ancestors 'none'`` and ``X-Frame-Options:
DENY``: nobody can overlay the install button). Pages shown inside a space's iframe name the
hosts that may frame them (``frame-ancestors``) and send no ``X-Frame-Options``, which cannot
name other origins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from starlette.responses import HTMLResponse, RedirectResponse

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 42rem; padding: 0 1rem; }
.framed { margin: 1rem; max-width: none; }
table { border-collapse: collapse; } td, th { padding: .25rem .75rem .25rem 0; text-align: left; }
.note { color: #555; } .error { color: #a00; } form { display: inline; }
button, .button { font: inherit; padding: .3rem .8rem; }
"""


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def csp(frame_ancestors: Sequence[str]) -> str:
    ancestors = " ".join(frame_ancestors) or "'none'"
    return f"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors {ancestors}"


def security_headers(frame_ancestors: Sequence[str] = ()) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": csp(frame_ancestors),
        # The iframe URL carries the signed context: never hand it on in a Referer.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    if not frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    return headers


def page(title: str, body: str, *, status: int = 200, frame_ancestors: Sequence[str] = ()) -> HTMLResponse:
    """A complete page; ``body`` is HTML (escape what you put in it with :func:`esc`)."""
    framed = ' class="framed"' if frame_ancestors else ""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style></head><body{framed}>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=security_headers(frame_ancestors))


def redirect(url: str, frame_ancestors: Sequence[str] = ()) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=security_headers(frame_ancestors))


def post_button(action: str, label: str, csrf: str) -> str:
    """A form with one button (state changes are POSTs with an anti-forgery token)."""
    return (
        f'<form method="post" action="{esc(action)}">'
        f'<input type="hidden" name="csrf_token" value="{esc(csrf)}">'
        f"<button>{esc(label)}</button></form>"
    )


def rows(cells: Iterable[Sequence[str]]) -> str:
    """Table rows from already escaped cells."""
    return "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)
