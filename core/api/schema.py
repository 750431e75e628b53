"""OpenAPI description of the bearer-token authentication (drf-spectacular extension)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API token: `Authorization: Bearer fk_...`"}


# --- Error responses --------------------------------------------------------------------------------------------
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "What went wrong, in one sentence (no secret is ever repeated).",
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Bad input: each field (or `non_field_errors`) with its messages.",
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "string"},
            {"type": "object"},
        ]
    },
}
# status -> (component name, description)
ERROR_RESPONSES = {
    "400": ("ValidationError", 'Bad input or a bad filter: `{"field": ["message"]}`.'),
    "401": ("Error", "No API token, or a bad, revoked or expired one."),
    "403": ("Error", "The token's user lacks the role, or the token is read-only."),
    "404": ("Error", "No such object, or no such page of a list."),
    "405": ("Error", "The method is not allowed here."),
    "406": ("Error", "The `Accept` header asks for something other than JSON."),
    "415": ("Error", "The body is not JSON."),
    "429": ("Error", "Rate limited: wait the `Retry-After` seconds."),
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation documents the errors every API view may answer, with
    their bodies (DRF's ``{"detail"}`` or ``{"field": [messages]}``), unless the view documents its own."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    schemas.setdefault("ValidationError", VALIDATION_ERROR_SCHEMA)
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, (component, description) in ERROR_RESPONSES.items():
                if status in responses:
                    continue
                response: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
                }
                if status == "429":
                    response["headers"] = {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                    }
                responses[status] = response
    return result
