"""Load any OpenAPI description (Swagger 2.0, OpenAPI 3.0/3.1) into one normalised model."""

from mockloop.spec.loader import load_spec
from mockloop.spec.model import (
    ApiSpec,
    Example,
    Header,
    MediaType,
    Operation,
    Parameter,
    RequestBody,
    Response,
    SecurityScheme,
)

__all__ = [
    "ApiSpec",
    "Example",
    "Header",
    "MediaType",
    "Operation",
    "Parameter",
    "RequestBody",
    "Response",
    "SecurityScheme",
    "load_spec",
]
