"""OpenAPI 3.1 documents built from the same pydantic models that validate requests, so the
document and the behaviour cannot drift apart."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

REF = "#/components/schemas/{model}"
JSON = "application/json"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}

HEALTH_SCHEMA = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"const": "ok"}},
}

# The document itself, as served at /openapi.json (a public route like any other).
OPENAPI_SCHEMA = {
    "type": "object",
    "required": ["openapi", "info", "paths", "components"],
    "properties": {
        "openapi": {"const": "3.1.0"},
        "info": {"type": "object", "required": ["title", "version"]},
        "paths": {"type": "object"},
        "components": {"type": "object"},
    },
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


class OpenApiBuilder:
    def __init__(self, title: str, version: str, description: str):
        self.doc: dict[str, Any] = {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version, "description": description},
            "paths": {},
            "components": {
                "schemas": {"Error": ERROR_SCHEMA, "Health": HEALTH_SCHEMA, "OpenApi": OPENAPI_SCHEMA}
            },
        }

    @staticmethod
    def json_response(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """A response with a JSON body of `schema` (`extra`: its headers, say)."""
        return {"description": description, "content": {JSON: {"schema": schema}}, **extra}

    def returns(self, description: str, model: type[BaseModel], **extra: Any) -> dict[str, Any]:
        """A response with a JSON body of `model`, as the service serializes it."""
        return self.json_response(description, self.model(model, "serialization"), **extra)

    def model(self, model: type[BaseModel], mode: str = "validation") -> dict[str, str]:
        schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        for name, sub in schema.pop("$defs", {}).items():
            self.doc["components"]["schemas"][name] = sub
        self.doc["components"]["schemas"][model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}

    @staticmethod
    def error_responses(*statuses: int) -> dict[str, Any]:
        reasons = {
            400: "Bad input",
            404: "Not found",
            405: "Method not allowed",
            409: "Conflict",
            413: "Body larger than the service accepts",
            415: "Unsupported media type",
            429: "Too many requests",
        }
        return {
            str(s): OpenApiBuilder.json_response(
                reasons.get(s, "Error"),
                {"$ref": REF.format(model="Error")},
                **({"headers": RETRY_AFTER} if s == 429 else {}),
            )
            for s in statuses
        }

    def add(self, path: str, method: str, operation: dict[str, Any]) -> None:
        self.doc["paths"].setdefault(path, {})[method] = operation

    def self_document(self) -> None:
        """`GET /openapi.json`: this document (not rate limited)."""
        self.add(
            "/openapi.json",
            "get",
            {
                "operationId": "openapi",
                "summary": "This OpenAPI document",
                "responses": {"200": self.json_response("The document", {"$ref": REF.format(model="OpenApi")})},
            },
        )

    def health(self) -> None:
        """`GET /health`: exempt from rate limits, so no 429."""
        self.add(
            "/health",
            "get",
            {
                "operationId": "health",
                "summary": "Liveness and readiness",
                "responses": {"200": self.json_response("Ready", {"$ref": REF.format(model="Health")})},
            },
        )


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI query parameters from a flat pydantic model."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        prop.pop("title", None)
        # Optional fields appear as anyOf [T, null]; a query parameter is simply absent instead.
        if "anyOf" in prop:
            options = [o for o in prop.pop("anyOf") if o.get("type") != "null"]
            prop.update(options[0])
            prop.pop("default", None)
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": prop.pop("description", ""),
                "schema": prop,
            }
        )
    return params
