"""The OpenAPI 3.1 document at /api/v1/openapi.json. Its schemas are plain JSON Schema
(2020-12), and the tests validate every API response against them."""

from __future__ import annotations

from flask import current_app

from ..extensions import limiter
from . import bp
from .petitions import MAX_PAGE, api_rate_limit, json_response

HREF = {
    "type": "object",
    "required": ["href"],
    "properties": {"href": {"type": "string", "format": "uri"}},
}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}

PETITION = {
    "type": "object",
    "description": "OSDI petition resource, plus counts_by_country and history.",
    "required": [
        "identifiers",
        "origin_system",
        "created_date",
        "modified_date",
        "title",
        "description",
        "petition_text",
        "target",
        "total_signatures",
        "counts_by_method",
        "browser_url",
        "share_url",
        "counts_by_country",
        "history",
        "_links",
    ],
    "properties": {
        "identifiers": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "origin_system": {"type": "string"},
        "created_date": {"type": "string", "format": "date-time"},
        "modified_date": {"type": "string", "format": "date-time"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "summary": {"type": "string"},
        "petition_text": {"type": "string"},
        "target": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}},
                "additionalProperties": False,
            },
        },
        "total_signatures": {"type": "integer", "minimum": 0},
        "counts_by_method": {
            "type": "object",
            "description": "total_signatures in its parts: online (confirmed by email) and "
            "paper (entered from signed paper sheets). They add up to total_signatures.",
            "required": ["online", "paper"],
            "properties": {
                "online": {"type": "integer", "minimum": 0},
                "paper": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": False,
        },
        "browser_url": {"type": "string", "format": "uri"},
        "share_url": {"type": "string", "format": "uri"},
        "featured_image_url": {"type": "string", "format": "uri"},
        "language": {"type": "string"},
        "languages": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string", "enum": ["open", "upcoming", "closed", "archived"]},
        "goal": {"type": "integer", "minimum": 1},
        "opens": NULLABLE_DATE,
        "closes": NULLABLE_DATE,
        "counts_by_country": {
            "type": "object",
            "description": "Confirmed signatures per ISO 3166 country code. Countries with "
            'fewer than 5 signers are counted together under "other".',
            "propertyNames": {"pattern": "^([A-Z]{2}|other)$"},
            "additionalProperties": {"type": "integer", "minimum": 1},
        },
        "history": {
            "type": "array",
            "description": "Confirmed signatures per day (UTC), oldest first, with the "
            "running total.",
            "items": {
                "type": "object",
                "required": ["date", "count", "total"],
                "additionalProperties": False,
                "properties": {
                    "date": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                    "count": {"type": "integer", "minimum": 1},
                    "total": {"type": "integer", "minimum": 1},
                },
            },
        },
        "_links": {
            "type": "object",
            "required": ["self"],
            "properties": {"self": HREF, "osdi:petitions": HREF, "browser": HREF},
        },
    },
}

COLLECTION = {
    "type": "object",
    "required": ["total_pages", "per_page", "page", "total_records", "_links", "_embedded"],
    "properties": {
        "total_pages": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
        "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        "total_records": {"type": "integer", "minimum": 0},
        "_links": {
            "type": "object",
            "required": ["self", "osdi:petitions"],
            "properties": {
                "self": HREF,
                "osdi:petitions": {"type": "array", "items": HREF},
                "openapi": HREF,
            },
        },
        "_embedded": {
            "type": "object",
            "required": ["osdi:petitions"],
            "properties": {
                "osdi:petitions": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/Petition"},
                }
            },
        },
    },
}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "title", "message"],
            "properties": {
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "title": {"type": "string"},
                "message": {"type": "string"},
            },
        }
    },
}


def _json(schema_name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
        },
    }


def _errors(*codes: int) -> dict:
    text = {
        304: "Not modified (the ETag in If-None-Match still matches).",
        400: "A bad query parameter.",
        404: "No petition with this slug.",
        405: "Only GET (and HEAD, OPTIONS) are allowed.",
        429: "Too many requests: see the rate limit above; Retry-After says when to retry.",
    }
    responses = {}
    for code in codes:
        if code == 304:
            responses["304"] = {"description": text[304]}
        else:
            responses[str(code)] = _json("Error", text[code])
    return responses


LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "description": "Language of the texts (en, fa, fr), else Accept-Language. Any other "
    "value is refused (400).",
    "schema": {"type": "string", "enum": ["en", "fa", "fr"]},
}


def document() -> dict:
    rate = current_app.config["RATELIMIT_API"]
    seconds = current_app.config["COUNT_CACHE_SECONDS"]
    base = current_app.config["BASE_URL"]
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Petition public API",
            "version": "1.0.0",
            "description": (
                "Read-only, public JSON about petitions: texts, totals, counts by country "
                "and a daily history. No personal data. Responses are shaped like the "
                "OSDI petition resource. CORS: any origin. Responses may be cached for "
                f"{seconds} second{'' if seconds == 1 else 's'} (Cache-Control, as the campaign "
                "page: total_signatures is as fresh as the page's count) and carry an ETag; "
                "send If-None-Match to get 304. "
                f"Rate limit per IP address: {rate} (X-RateLimit-* headers; 429 past it)."
            ),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": f"{base}/api/v1"}],
        "paths": {
            "/petitions": {
                "get": {
                    "operationId": "listPetitions",
                    "summary": "All petitions",
                    "parameters": [
                        LANG,
                        {
                            "name": "page",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                        },
                        {
                            "name": "per_page",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                    ],
                    "responses": {
                        "200": _json("PetitionCollection", "A page of petitions."),
                        **_errors(304, 400, 405, 429),
                    },
                }
            },
            "/petitions/{slug}": {
                "get": {
                    "operationId": "getPetition",
                    "summary": "One petition",
                    "parameters": [
                        {
                            "name": "slug",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 80},
                        },
                        LANG,
                    ],
                    "responses": {
                        "200": _json("Petition", "The petition."),
                        **_errors(304, 400, 404, 405, 429),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenAPI",
                    "summary": "This document",
                    "responses": {"200": {"description": "The OpenAPI document."}},
                }
            },
        },
        "components": {
            "schemas": {"Petition": PETITION, "PetitionCollection": COLLECTION, "Error": ERROR}
        },
    }


@bp.get("/openapi.json")
@limiter.limit(api_rate_limit)
def openapi_document():
    return json_response(document())
