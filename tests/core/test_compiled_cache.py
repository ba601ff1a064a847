"""The compiled cache: a second load of unchanged files comes from disk, never a stale one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

import mockloop.spec.compiled as compiled
from mockloop.errors import SpecError
from mockloop.mock import MockConfig, MockServer
from mockloop.spec import ApiSpec
from mockloop.spec.compiled import MAX_ENTRIES, compiled_cache_dir, load_spec_cached
from tests.conftest import PETSTORE

ROOT = """\
openapi: 3.0.3
info: {title: Split, version: "1"}
paths:
  /things/{id}:
    get:
      operationId: getThing
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        "200":
          description: a thing
          content:
            application/json:
              schema: {$ref: "parts.yaml#/Thing"}
"""

PARTS = """\
Thing:
  type: object
  required: [{field}]
  properties:
    {field}: {{type: string, example: {value}}}
"""


def write_split(folder: Path, field: str = "name", value: str = "first") -> Path:
    """A description over two files: the root and a `$ref`'d schema file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "parts.yaml").write_text(PARTS.format(field=field, value=value))
    root = folder / "api.yaml"
    root.write_text(ROOT)
    return root


def thing_schema(spec: ApiSpec) -> dict:
    op = next(op for op in spec.operations if op.operation_id == "getThing")
    schema = op.responses["200"].content["application/json"].schema
    assert schema is not None
    while "$ref" in schema:  # bundled into the document's components
        node = spec.document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.spec.pickle"))


@pytest.fixture()
def no_cold_load(monkeypatch: pytest.MonkeyPatch):
    """Make a cold load fail, so a load that succeeds must have come from the cache."""

    def refuse(*_: object, **__: object) -> ApiSpec:
        raise AssertionError("load_spec was called: the compiled cache missed")

    def switch_on() -> None:
        monkeypatch.setattr(compiled, "load_spec", refuse)

    return switch_on


def test_a_second_load_of_unchanged_files_is_a_hit(tmp_path: Path, no_cold_load) -> None:
    root = write_split(tmp_path / "spec")
    cache = tmp_path / "cache"
    cold = load_spec_cached(root, cache_dir=cache)
    assert len(entries(cache)) == 1
    no_cold_load()
    warm = load_spec_cached(str(root), cache_dir=cache)
    assert warm.title == cold.title == "Split"
    assert thing_schema(warm) == thing_schema(cold)
    assert warm.document == cold.document


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership and modes")
def test_an_entry_others_may_write_is_never_unpickled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = write_split(tmp_path / "spec")
    cache = tmp_path / "cache"
    load_spec_cached(root, cache_dir=cache)
    (entry,) = entries(cache)

    def planted(*_: object, **__: object) -> object:
        raise AssertionError("an untrusted entry was unpickled")

    monkeypatch.setattr(compiled.pickle, "load", planted)
    for target in (cache, entry):
        target.chmod(0o777 if target == cache else 0o666)
        assert load_spec_cached(root, cache_dir=cache).title == "Split"  # a cold load
        target.chmod(0o700 if target == cache else 0o600)
    assert "writable by another user or not yours" in caplog.text


def test_a_root_saved_while_it_loads_is_not_cached_under_the_old_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_split(tmp_path / "spec")
    cache = tmp_path / "cache"
    real = compiled.load_spec

    def edited_meanwhile(source: object, **options: object) -> ApiSpec:
        root.write_text(ROOT.replace("title: Split", "title: Saved meanwhile"))
        return real(source, **options)

    monkeypatch.setattr(compiled, "load_spec", edited_meanwhile)
    assert load_spec_cached(root, cache_dir=cache).title == "Saved meanwhile"
    assert entries(cache) == []  # keyed by the bytes hashed before: never written


def test_a_hit_from_any_directory_unless_a_ref_needed_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    inside = write_split(tmp_path / "inside")
    outside = tmp_path / "outside" / "api.yaml"
    outside.parent.mkdir()
    outside.write_text(ROOT.replace("parts.yaml#", "../inside/parts.yaml#"))
    options = {"cache_dir": cache, "widen_refs_root_to_cwd": True}
    monkeypatch.chdir(tmp_path)
    load_spec_cached(inside, **options)
    load_spec_cached(outside, **options)  # its $ref is allowed because the cwd widens the root
    assert len(entries(cache)) == 2
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    calls: list[object] = []
    real = compiled.load_spec

    def counted(source: object, **kwargs: object) -> ApiSpec:
        calls.append(source)
        return real(source, **kwargs)

    monkeypatch.setattr(compiled, "load_spec", counted)
    assert load_spec_cached(inside, **options).title == "Split"
    assert calls == []  # its files are all in its own folder: any directory will do
    with pytest.raises(SpecError):  # from here the $ref is outside the root again
        load_spec_cached(outside, **options)
    assert calls == [outside]


def test_a_changed_root_is_a_miss(tmp_path: Path) -> None:
    root = write_split(tmp_path / "spec")
    cache = tmp_path / "cache"
    load_spec_cached(root, cache_dir=cache)
    root.write_text(ROOT.replace("title: Split", "title: Changed"))
    assert load_spec_cached(root, cache_dir=cache).title == "Changed"
    assert len(entries(cache)) == 2


def test_a_changed_external_ref_file_is_a_miss(tmp_path: Path) -> None:
    root = write_split(tmp_path / "spec", field="name", value="first")
    cache = tmp_path / "cache"
    assert "name" in thing_schema(load_spec_cached(root, cache_dir=cache))["properties"]
    write_split(tmp_path / "spec", field="label", value="second")
    schema = thing_schema(load_spec_cached(root, cache_dir=cache))
    assert "label" in schema["properties"]
    assert "name" not in schema["properties"]


def test_options_that_change_the_result_are_part_of_the_key(tmp_path: Path) -> None:
    root = write_split(tmp_path / "spec")
    cache = tmp_path / "cache"
    load_spec_cached(root, cache_dir=cache)
    load_spec_cached(root, cache_dir=cache, check_examples=True)
    assert len(entries(cache)) == 2


def test_a_corrupt_entry_is_ignored_and_replaced(tmp_path: Path, no_cold_load) -> None:
    root = write_split(tmp_path / "spec")
    cache = tmp_path / "cache"
    load_spec_cached(root, cache_dir=cache)
    (entry,) = entries(cache)
    entry.write_bytes(b"\x80\x05not a pickle at all")
    assert load_spec_cached(root, cache_dir=cache).title == "Split"
    no_cold_load()  # the cold load rewrote the entry: the next load is a hit
    assert load_spec_cached(root, cache_dir=cache).title == "Split"


def test_a_truncated_entry_is_ignored(tmp_path: Path) -> None:
    root = write_split(tmp_path / "spec")
    cache = tmp_path / "cache"
    load_spec_cached(root, cache_dir=cache)
    (entry,) = entries(cache)
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    assert thing_schema(load_spec_cached(root, cache_dir=cache))["type"] == "object"


def test_a_deleted_cache_folder_is_a_cold_load(tmp_path: Path) -> None:
    root = write_split(tmp_path / "spec")
    cache = tmp_path / "cache"
    load_spec_cached(root, cache_dir=cache)
    shutil.rmtree(cache)
    assert load_spec_cached(root, cache_dir=cache).title == "Split"
    assert len(entries(cache)) == 1


def test_the_cache_keeps_the_newest_entries_only(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for index in range(MAX_ENTRIES + 3):
        root = write_split(tmp_path / f"spec-{index}")
        load_spec_cached(root, cache_dir=cache)
    assert len(entries(cache)) == MAX_ENTRIES
    assert not list(cache.glob(".writing-*"))


def test_text_and_dicts_are_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    text = PETSTORE.read_text()
    assert load_spec_cached(text, cache_dir=cache).operations
    assert not cache.exists()


def test_the_cache_folder_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOCKLOOP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compiled_cache_dir() == tmp_path / "xdg" / "mockloop" / "compiled"
    monkeypatch.setenv("MOCKLOOP_CACHE_DIR", str(tmp_path / "mine"))
    assert compiled_cache_dir() == tmp_path / "mine"


def serve_once(root: Path, cache: Path, data: Path, *, compile_cache: bool = True) -> list:
    """Start a mock on `root`, ask it three things, stop it; the answers."""
    config = MockConfig(
        spec=str(root),
        port=0,
        admin_port=0,
        seed=7,
        data_dir=data,
        compile_cache=compile_cache,
        compile_cache_dir=cache,
    )
    with MockServer(config) as server, httpx.Client(base_url=server.business_url) as client:
        assert server.admin_url is not None
        assert httpx.get(server.admin_url + "/health").status_code == 200
        answers = []
        for path in ("/pets", "/pets/1", "/nowhere"):
            response = client.get(path, headers={"Authorization": "Bearer t"})
            answers.append((response.status_code, response.json()))
        return answers


def test_answers_are_identical_cold_and_warm(tmp_path: Path, no_cold_load) -> None:
    root = tmp_path / "petstore.yaml"
    shutil.copy(PETSTORE, root)
    cache = tmp_path / "cache"
    cold = serve_once(root, cache, tmp_path / "cold")
    assert len(entries(cache)) == 1
    no_cold_load()
    warm = serve_once(root, cache, tmp_path / "warm")
    assert warm == cold
    assert cold[1][0] == 200


def test_compile_cache_off_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "petstore.yaml"
    shutil.copy(PETSTORE, root)
    cache = tmp_path / "cache"
    assert serve_once(root, cache, tmp_path / "data", compile_cache=False)[1][0] == 200
    assert not cache.exists()
