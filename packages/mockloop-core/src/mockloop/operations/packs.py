"""Scenario packs: curated scenario templates applied to a description and deployed."""

from __future__ import annotations

import asyncio
from typing import Any

from mockloop.errors import ConfigError
from mockloop.operation import operation
from mockloop.operations.base import OperationsBase
from mockloop.operations.parameters.typed import ApiDocumentJson
from mockloop.packs.results import (
    PackApplication,
    PackDetail,
    PackFileReport,
    PackSummary,
    ScenarioPackList,
)

__all__ = ["ScenarioPackOperations"]


class ScenarioPackOperations(OperationsBase):
    """Scenario packs: curated scenario templates applied to a description and deployed."""

    @operation(group="packs", read_only=True)
    async def list_scenario_packs(self, category: str | None = None) -> ScenarioPackList:
        """List the scenario packs (15 built in, plus the user's) with their scenarios and URIs.

        Packs: error simulation (4xx client errors, 5xx server errors, network timeouts, rate
        limiting), performance (load, stress, spike, endurance testing), security (auth bypass,
        injection, XSS, CSRF attacks) and business logic (edge cases, data validation,
        workflow testing). User packs are read from MOCKLOOP_PACKS_DIR, else
        MOCKLOOP_HOME/packs; a file that does not validate is listed under invalid with its
        problems and is not loaded.

        Args:
            category: only this category: error-simulation, performance, security or
                business-logic; None: all.
        """
        from mockloop.packs.loader import load_packs
        from mockloop.packs.models import PACK_CATEGORIES

        if category is not None and category not in PACK_CATEGORIES:
            raise ConfigError(
                f"category={category!r} is not a pack category; use one of "
                f"{', '.join(PACK_CATEGORIES)} (or None for all)"
            )
        collection = await self._in_thread(load_packs, self.settings.home)
        packs = []
        for uri in sorted(collection.packs):
            loaded = collection.packs[uri]
            pack = loaded.pack
            if category is not None and pack.category != category:
                continue
            packs.append(
                PackSummary(
                    uri=uri,
                    name=pack.name,
                    category=pack.category,
                    title=pack.title,
                    description=pack.description,
                    version=pack.version,
                    tags=pack.tags,
                    scenarios=[s.name for s in pack.scenarios],
                    payload_lists={name: len(items) for name, items in pack.payloads.items()},
                    has_load_profile=pack.load_profile is not None,
                    security_focus=pack.security_focus,
                    origin=loaded.origin,
                    path=str(loaded.path),
                )
            )
        return ScenarioPackList(
            packs=packs,
            invalid=[
                PackFileReport(path=str(item.path), problems=list(item.problems))
                for item in collection.invalid
            ],
            user_packs_dir=str(collection.user_dir) if collection.user_dir else None,
            notes=collection.notes,
        )

    @operation(group="packs", read_only=True)
    async def get_scenario_pack(self, uri: str) -> PackDetail:
        """Read one scenario pack in full: status mixes, fault and load profiles, payload lists.

        Args:
            uri: the pack's URI, scenario-pack://CATEGORY/NAME (list_scenario_packs lists
                them), e.g. scenario-pack://error-simulation/5xx-server-errors.
        """
        from mockloop.packs.loader import load_packs

        collection = await self._in_thread(load_packs, self.settings.home)
        loaded = collection.get(uri)
        return PackDetail(
            uri=loaded.pack.uri,
            origin=loaded.origin,
            path=str(loaded.path),
            pack=loaded.pack.model_dump(mode="json", exclude_defaults=True),
        )

    @operation(group="packs")
    async def apply_scenario_pack(
        self,
        pack_uri: str,
        server_url: str | None = None,
        api_spec: str | ApiDocumentJson | None = None,
        operations: list[str] | None = None,
        activate: str | None = None,
        name_prefix: str | None = None,
    ) -> PackApplication:
        """Turn a scenario pack into concrete scenarios for an API and deploy them to a mock.

        Each scenario template of the pack picks operations of the description (writes for
        CSRF, secured operations for auth failures, lists for empty collections...) and
        becomes a scenario (rules saying what the mock answers), validated strictly against it,
        with a test_plan that expects what the scenario makes the mock answer, tags, source and
        expected outcomes (performance packs: a load_profile in run_load_test terms). With
        server_url the description is the mock's own and every scenario is deployed there
        (not activated unless activate names one); with only api_spec nothing is deployed.

        Args:
            pack_uri: the pack, scenario-pack://CATEGORY/NAME (see list_scenario_packs).
            server_url: a running MockLoop mock (business or admin URL) to deploy to; its
                description is used unless api_spec is given.
            api_spec: the description (path, URL, dict or YAML/JSON text); needed without
                server_url.
            operations: limit the scenarios to these operations (operationIds or
                "METHOD /path"); None: the pack chooses from all.
            activate: the scenario to activate after deploying: its template name
                ("internal-errors") or full name ("5xx-server-errors-internal-errors").
            name_prefix: prefix of the scenario names (default: the pack name; "" for none).
        """
        from mockloop.packs.apply import apply_pack
        from mockloop.packs.loader import load_packs
        from mockloop.prompts.description import load_description

        if server_url is None and api_spec is None:
            raise ConfigError(
                "give server_url (a running mock to deploy to) or api_spec (a description to "
                "make the scenarios for)"
            )
        if activate is not None and server_url is None:
            raise ConfigError("activate needs server_url: there is no mock to activate it on")
        collection = await self._in_thread(load_packs, self.settings.home)
        pack = collection.get(pack_uri).pack
        target = None
        if api_spec is not None:
            spec = await self._in_thread(load_description, api_spec)
        else:
            assert server_url is not None
            target = await self.services.admin.target(server_url)
            if not target.business_url:
                raise ConfigError(
                    f"the mock at {server_url} reports no business URL to read its description "
                    "from; pass api_spec"
                )
            spec = await self._in_thread(load_description, f"{target.business_url}/openapi.json")
        applied = await self._in_thread(
            apply_pack, pack, spec, operations=operations, name_prefix=name_prefix
        )
        if operations and not applied.scenarios:
            raise ConfigError(
                f"operations={operations} select nothing the pack {pack.uri} applies to in "
                f"{spec.title}; notes: {'; '.join(applied.notes) or 'none'}"
            )
        deployed: list[str] = []
        activated = None
        if server_url is not None:
            wanted = None
            if activate is not None:
                names = {s["name"]: s["name"] for s in applied.scenarios}
                names.update({s["x-pack"]["scenario"]: s["name"] for s in applied.scenarios})
                wanted = names.get(activate)
                if wanted is None:
                    raise ConfigError(
                        f"activate={activate!r} is not a scenario of {pack.uri} for this API; "
                        f"use one of {sorted(names)}"
                    )
            gate = asyncio.Semaphore(4)
            mock = target or await self.services.admin.target(server_url)

            async def deploy(scenario: dict[str, Any], activate: bool) -> str:
                async with gate:
                    result = await self.services.scenarios.deploy(
                        mock, server_url, scenario, activate=activate
                    )
                return result.scenario_name

            # Independent scenarios deploy side by side; the one to activate goes last.
            others = [s for s in applied.scenarios if s["name"] != wanted]
            deployed = list(await asyncio.gather(*(deploy(s, False) for s in others)))
            for scenario in applied.scenarios:
                if scenario["name"] == wanted:
                    deployed.append(await deploy(scenario, True))
            activated = wanted
        return PackApplication(
            pack_uri=pack.uri,
            api=f"{spec.title} ({spec.source})",
            scenarios=applied.scenarios,
            deployed=deployed,
            activated=activated,
            server_url=server_url,
            invalid=applied.invalid,
            notes=applied.notes,
        )
