"""``GET /docs``: the API reference for people, rendered on the server from ``/openapi.json``.

Plain HTML with the project's stylesheet: no JavaScript and nothing loaded from another
origin (FastAPI's own ``/docs`` pulls Swagger UI from a CDN; it is switched off). Each
operation shows its method and path, summary, parameters, request body, responses and their
schemas, grouped by tag; the named schemas follow at the end. The page is built once per
application, from the same OpenAPI document ``/openapi.json`` serves.
"""

from __future__ import annotations

import functools
import json
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from markupsafe import Markup
from starlette.responses import Response

from frontdesk.web import routing
from frontdesk.web.deps import OptionalUser
from frontdesk.web.templating import render

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

router = routing.router()

METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")
# Tags in reading order: the protocol first, then the API. Others follow as they appear.
TAG_ORDER = ("oauth", "openid", "user", "access tokens", "spaces", "navigation links", "operations")
TAG_TITLES = {"oauth": "OAuth", "openid": "OpenID Connect"}
UNTAGGED = "other"
MAX_DEPTH = 12


@dataclass(frozen=True)
class TypeView:
    """A JSON schema reduced to what a reader needs.

    ``kind`` is ``ref`` (a named schema), ``array``, ``union``, ``object`` (inline, with
    ``fields``), ``scalar`` (``name`` is the JSON type) or ``any``.
    """

    kind: str
    name: str = ""
    fmt: str = ""
    enum: tuple[str, ...] = ()
    items: TypeView | None = None
    options: tuple[TypeView, ...] = ()
    fields: tuple[FieldView, ...] = ()
    extra: TypeView | None = None  # additionalProperties of an object
    nullable: bool = False


@dataclass(frozen=True)
class FieldView:
    name: str
    type: TypeView
    required: bool
    description: str = ""
    default: str | None = None


@dataclass(frozen=True)
class ParamView:
    name: str
    location: str
    required: bool
    type: TypeView
    description: str = ""


@dataclass(frozen=True)
class BodyView:
    content_type: str
    type: TypeView | None


@dataclass(frozen=True)
class ResponseView:
    status: str
    description: str
    bodies: tuple[BodyView, ...]


@dataclass(frozen=True)
class OperationView:
    anchor: str
    methods: tuple[str, ...]
    path: str
    summary: str
    description: tuple[str, ...]  # paragraphs
    parameters: tuple[ParamView, ...]
    request_bodies: tuple[BodyView, ...]
    request_required: bool
    request_description: str
    responses: tuple[ResponseView, ...]
    scopes: tuple[str, ...]
    deprecated: bool = False


@dataclass(frozen=True)
class TagView:
    name: str
    title: str
    anchor: str
    description: tuple[str, ...]
    operations: tuple[OperationView, ...]


@dataclass(frozen=True)
class SchemaView:
    name: str
    anchor: str
    description: tuple[str, ...]
    type: TypeView


@dataclass(frozen=True)
class ApiDocs:
    title: str
    version: str
    description: tuple[str, ...]
    tags: tuple[TagView, ...]
    schemas: tuple[SchemaView, ...] = field(default=())


# ---- from the OpenAPI document to the view -----------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def paragraphs(text: object) -> tuple[str, ...]:
    if not isinstance(text, str):
        return ()
    return tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip())


def _text(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def type_view(schema: object, depth: int = 0) -> TypeView:
    """Reduce a JSON schema (OpenAPI 3.1 / JSON Schema 2020-12 subset) to a :class:`TypeView`."""
    if not isinstance(schema, Mapping) or not schema or depth > MAX_DEPTH:
        return TypeView("any")
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return TypeView("ref", name=ref.rsplit("/", 1)[-1])
    for key in ("anyOf", "oneOf"):
        choices = schema.get(key)
        if isinstance(choices, list) and choices:
            return _union([type_view(c, depth + 1) for c in choices])
    every = schema.get("allOf")
    if isinstance(every, list) and len(every) == 1:
        return type_view(every[0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1: "type": ["string", "null"]
        return _union([type_view({**schema, "type": k}, depth + 1) for k in kind])
    enum = tuple(json.dumps(v) for v in schema["enum"]) if isinstance(schema.get("enum"), list) else ()
    if "const" in schema:
        enum = (json.dumps(schema["const"]),)
    if kind == "null":
        return TypeView("scalar", name="null")
    if kind == "array":
        return TypeView("array", items=type_view(schema.get("items"), depth + 1))
    if kind == "object" or isinstance(schema.get("properties"), Mapping):
        return _object(schema, depth)
    if isinstance(kind, str):
        fmt = schema.get("format")
        return TypeView("scalar", name=kind, fmt=fmt if isinstance(fmt, str) else "", enum=enum)
    return TypeView("any", enum=enum)


def _union(options: list[TypeView]) -> TypeView:
    nullable = any(o.kind == "scalar" and o.name == "null" for o in options)
    rest = [o for o in options if not (o.kind == "scalar" and o.name == "null")]
    if not rest:
        return TypeView("scalar", name="null")
    if len(rest) == 1:
        only = rest[0]
        return TypeView(
            only.kind,
            name=only.name,
            fmt=only.fmt,
            enum=only.enum,
            items=only.items,
            options=only.options,
            fields=only.fields,
            extra=only.extra,
            nullable=nullable or only.nullable,
        )
    return TypeView("union", options=tuple(rest), nullable=nullable)


def _object(schema: Mapping[str, Any], depth: int) -> TypeView:
    props = schema.get("properties")
    required = set(schema.get("required") or ())
    fields: list[FieldView] = []
    if isinstance(props, Mapping):
        for name, sub in props.items():
            sub = sub if isinstance(sub, Mapping) else {}
            default = json.dumps(sub["default"]) if "default" in sub else None
            fields.append(
                FieldView(
                    name=str(name),
                    type=type_view(sub, depth + 1),
                    required=name in required,
                    description=_text(sub.get("description")),
                    default=default,
                )
            )
    extra_schema = schema.get("additionalProperties")
    extra = type_view(extra_schema, depth + 1) if isinstance(extra_schema, Mapping) else None
    return TypeView("object", fields=tuple(fields), extra=extra)


def _bodies(content: object) -> tuple[BodyView, ...]:
    if not isinstance(content, Mapping):
        return ()
    return tuple(
        BodyView(
            content_type=str(media),
            type=type_view(spec.get("schema")) if isinstance(spec, Mapping) and spec.get("schema") else None,
        )
        for media, spec in content.items()
    )


def _parameters(raw: Iterable[object]) -> tuple[ParamView, ...]:
    result: list[ParamView] = []
    for param in raw:
        if not isinstance(param, Mapping) or "name" not in param:
            continue
        result.append(
            ParamView(
                name=str(param["name"]),
                location=str(param.get("in", "")),
                required=bool(param.get("required", False)),
                type=type_view(param.get("schema")),
                description=_text(param.get("description")),
            )
        )
    return tuple(result)


def _status_key(status: str) -> tuple[int, str]:
    return (int(status), "") if status.isdigit() else (1000, status)


def _responses(raw: object) -> tuple[ResponseView, ...]:
    if not isinstance(raw, Mapping):
        return ()
    return tuple(
        ResponseView(
            status=str(status),
            description=_text(spec.get("description")) if isinstance(spec, Mapping) else "",
            bodies=_bodies(spec.get("content")) if isinstance(spec, Mapping) else (),
        )
        for status, spec in sorted(raw.items(), key=lambda item: _status_key(str(item[0])))
    )


def _scopes(security: object) -> tuple[str, ...]:
    found: dict[str, None] = {}
    if isinstance(security, list):
        for requirement in security:
            if isinstance(requirement, Mapping):
                for scopes in requirement.values():
                    for scope in scopes or ():
                        found.setdefault(str(scope), None)
    return tuple(found)


def _operation(
    path: str, methods: tuple[str, ...], op: Mapping[str, Any], shared: list[Any]
) -> OperationView:
    body = op.get("requestBody")
    body = body if isinstance(body, Mapping) else {}
    return OperationView(
        anchor=slug(f"op {'-'.join(methods)} {path}"),
        methods=tuple(m.upper() for m in methods),
        path=path,
        summary=_text(op.get("summary")),
        description=paragraphs(op.get("description")),
        parameters=_parameters([*shared, *(op.get("parameters") or ())]),
        request_bodies=_bodies(body.get("content")),
        request_required=bool(body.get("required", False)),
        request_description=_text(body.get("description")),
        responses=_responses(op.get("responses")),
        scopes=_scopes(op.get("security")),
        deprecated=bool(op.get("deprecated", False)),
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def build(doc: Mapping[str, Any]) -> ApiDocs:
    """The view of an OpenAPI document: operations grouped by tag, then the named schemas."""
    info = _mapping(doc.get("info"))
    tag_info = {str(t["name"]): t for t in doc.get("tags") or () if isinstance(t, Mapping) and "name" in t}
    by_tag: dict[str, list[OperationView]] = {}
    for path, item in _mapping(doc.get("paths")).items():
        if not isinstance(item, Mapping):
            continue
        shared = list(item.get("parameters") or ())
        # Methods with the same description (GET and HEAD of a metadata document) are shown once.
        groups: dict[str, tuple[list[str], Mapping[str, Any]]] = {}
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            key = json.dumps({k: v for k, v in op.items() if k != "operationId"}, sort_keys=True, default=str)
            groups.setdefault(key, ([], op))[0].append(method)
        for methods, op in groups.values():
            view = _operation(str(path), tuple(methods), op, shared)
            tag = str((op.get("tags") or [UNTAGGED])[0])
            by_tag.setdefault(tag, []).append(view)
    order = [t for t in TAG_ORDER if t in by_tag] + [t for t in by_tag if t not in TAG_ORDER]
    tags = tuple(
        TagView(
            name=tag,
            title=TAG_TITLES.get(tag, tag[:1].upper() + tag[1:]),
            anchor=slug(f"tag {tag}"),
            description=paragraphs(_mapping(tag_info.get(tag)).get("description")),
            operations=tuple(by_tag[tag]),
        )
        for tag in order
    )
    raw_schemas = _mapping(_mapping(doc.get("components")).get("schemas"))
    schemas = tuple(
        SchemaView(
            name=str(name),
            anchor=schema_anchor(str(name)),
            description=paragraphs(_mapping(schema).get("description")),
            type=type_view(schema),
        )
        for name, schema in sorted(raw_schemas.items())
    )
    return ApiDocs(
        title=_text(info.get("title")) or "API",
        version=_text(info.get("version")),
        description=paragraphs(info.get("description")),
        tags=tags,
        schemas=schemas,
    )


def schema_anchor(name: str) -> str:
    return "schema-" + slug(name)


@functools.cache
def _markdown() -> MarkdownIt:
    """OpenAPI descriptions are CommonMark. Raw HTML in them is escaped, not passed through
    ("js-default": html off), so a description can never add markup or script to the page.
    markdown-it loads with the first reference page, not with every worker
    (docs/performance.md, "Memory")."""
    from markdown_it import MarkdownIt

    return MarkdownIt("js-default")


def markdown(paragraph: str) -> Markup:
    """One paragraph of CommonMark as inline HTML (code spans, emphasis, links)."""
    return Markup(_markdown().renderInline(paragraph))  # noqa: S704 - markdown-it escapes HTML


# ---- the page ------------------------------------------------------------------------------------

_built: weakref.WeakKeyDictionary[FastAPI, ApiDocs] = weakref.WeakKeyDictionary()


def docs_for(app: FastAPI) -> ApiDocs:
    """The view of ``app``'s OpenAPI document, built on first use (the document is fixed)."""
    view = _built.get(app)
    if view is None:
        view = _built[app] = build(app.openapi())
    return view


@router.get("/docs", include_in_schema=False)
async def api_docs(request: Request, user: OptionalUser) -> Response:
    return render(
        request,
        "api_docs.html",
        # The reference is written from the OpenAPI document's English: one language only.
        {
            "docs": docs_for(request.app),
            "schema_anchor": schema_anchor,
            "markdown": markdown,
            "page_locale": "en",
        },
    )
