"""Load any OpenAPI description (Swagger 2.0, OpenAPI 3.0/3.1) into one normalised model.

`load_spec` is imported on first use: a module that needs only the model (the mock's parts,
or a mock started from the compiled cache) does not load the loader, YAML and the $ref
machinery.
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from mockloop.spec.loader import load_spec

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


def __getattr__(name: str) -> Any:
    if name != "load_spec":
        raise AttributeError(f"module 'mockloop.spec' has no attribute {name!r}")
    from mockloop.spec.loader import load_spec

    globals()["load_spec"] = load_spec
    return load_spec
