"""Data dependencies between operations: ids one produces and another consumes.

Three sources, strongest first: OpenAPI `links` on responses (the description says so), the
same name (a response field `petId` and a parameter `petId`), and the collection's id (a POST
or GET on `/pets` returning `id`, consumed as the last path parameter of `/pets/{petId}`).
"""

from __future__ import annotations

from typing import Any

from mockloop.prompts.models import DataDependency
from mockloop.prompts.risk import response_fields
from mockloop.spec.model import ApiSpec, Operation

__all__ = ["find_dependencies"]

_LIMIT = 200


def _pointer_get(document: dict[str, Any], pointer: str) -> Any:
    target: Any = document
    for part in pointer.lstrip("/").split("/"):
        if not part:
            continue
        key = part.replace("~1", "/").replace("~0", "~")
        target = target.get(key) if isinstance(target, dict) else None
        if target is None:
            return None
    return target


def _links(spec: ApiSpec, raw: dict[str, Any], op: Operation) -> list[DataDependency]:
    node = _pointer_get(raw, op.pointer) if op.pointer else None
    if not isinstance(node, dict):
        return []
    found = []
    by_id = {o.operation_id: o for o in spec.operations}
    for response in (node.get("responses") or {}).values():
        if isinstance(response, dict) and isinstance(response.get("$ref"), str):
            response = _pointer_get(raw, response["$ref"].lstrip("#"))
        if not isinstance(response, dict):
            continue
        links = response.get("links") or {}
        for link in links.values() if isinstance(links, dict) else []:
            if not isinstance(link, dict):
                continue
            if isinstance(link.get("$ref"), str):
                link = _pointer_get(raw, link["$ref"].lstrip("#"))
            if not isinstance(link, dict):
                continue
            target = link.get("operationId")
            if target not in by_id:
                continue
            for parameter, expression in (link.get("parameters") or {}).items():
                field = (
                    str(expression).rsplit("#/", 1)[-1]
                    if "#/" in str(expression)
                    else str(expression)
                )
                found.append(
                    DataDependency(
                        producer=op.operation_id,
                        consumer=target,
                        field=field.strip("/").replace("/", "."),
                        parameter=str(parameter).split(".")[-1],
                        via="link",
                    )
                )
    return found


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def find_dependencies(spec: ApiSpec, raw: dict[str, Any] | None = None) -> list[DataDependency]:
    """Producer -> consumer pairs, links first, without duplicates (at most 200).

    Links are read from `raw`, the description as written (the normalised model drops them).
    """
    found: list[DataDependency] = []
    seen: set[tuple[str, str, str]] = set()

    def keep(dep: DataDependency) -> None:
        key = (dep.producer, dep.consumer, dep.parameter)
        if key not in seen and dep.producer != dep.consumer and len(found) < _LIMIT:
            seen.add(key)
            found.append(dep)

    for op in spec.operations if raw is not None else []:
        for dep in _links(spec, raw or {}, op):
            keep(dep)
    produced = {
        op.operation_id: {name.lower(): name for name in response_fields(spec, op)}
        for op in spec.operations
    }
    producers = [op for op in spec.operations if op.method.upper() in ("POST", "GET", "PUT")]
    for consumer in spec.operations:
        params = [p for p in consumer.parameters if p.location == "path" or p.required]
        path_params = [p for p in consumer.parameters if p.location == "path"]
        for param in params:
            for producer in producers:
                fields = produced[producer.operation_id]
                if param.name.lower() in fields and producer.path != consumer.path:
                    keep(
                        DataDependency(
                            producer=producer.operation_id,
                            consumer=consumer.operation_id,
                            field=fields[param.name.lower()],
                            parameter=param.name,
                            via="name",
                        )
                    )
        if not path_params:
            continue
        last = path_params[-1]
        collection = consumer.path.split("{" + last.name + "}", 1)[0].rstrip("/")
        if not collection:
            continue
        noun = _singular(collection.rsplit("/", 1)[-1]).lower()
        if last.name.lower() not in ("id", f"{noun}id", f"{noun}_id", f"{noun}-id", noun):
            continue
        for producer in producers:
            if producer.path.rstrip("/") != collection:
                continue
            fields = produced[producer.operation_id]
            if "id" in fields:
                keep(
                    DataDependency(
                        producer=producer.operation_id,
                        consumer=consumer.operation_id,
                        field=fields["id"],
                        parameter=last.name,
                        via="path",
                    )
                )
    return found
