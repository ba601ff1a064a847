"""Localized value pools drawn once from Faker, so a generated value costs a list index.

Per (locale, kind) a pool of `POOL_SIZE` values is drawn from Faker the first time the kind is
needed, with a seed fixed per kind (so a pool is the same whatever the order pools are built
in, in any process); a value is then `rng.choice(pool)` with the caller's RNG, which keeps data
deterministic per seed and stable per path parameters. Faker is imported only when a first pool
is built: never by `import mockloop`, never by a mock whose responses need no name-based value.
Building is thread-safe (one lock); `SchemaFaker.warm_up` builds a description's pools ahead
on a background thread.

Locales are Faker's (`en_US`, `de_DE`, `ja_JP`, ...), checked without importing Faker by
`check_locale`.
"""

from __future__ import annotations

import importlib.util
import pkgutil
import re
import threading
import unicodedata
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mockloop.errors import ConfigError

__all__ = [
    "DEFAULT_LOCALE",
    "KINDS",
    "POOL_SIZE",
    "available_locales",
    "check_locale",
    "pool",
    "pools_built",
]

DEFAULT_LOCALE = "en_US"
POOL_SIZE = 256


def _full_name(fake: Any) -> str:
    return f"{fake.first_name()} {fake.last_name()}"


def _user_name(fake: Any) -> str:
    """An ASCII user name (Faker's, or the ASCII letters of a name for scripts it leaves)."""
    for text in (fake.user_name(), f"{fake.first_name()}{fake.last_name()}"):
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
        # A dot-atom local part: no run of dots, no dot at either end.
        folded = re.sub(r"\.{2,}", ".", re.sub(r"[^a-z0-9._]+", "", folded)).strip("._")
        if len(folded) >= 3:
            return folded
    return f"user{fake.random_int(1, 9999)}"


def _state_abbr(fake: Any) -> str:
    """The locale's state code when it is ASCII letters, else "" (skipped); a locale without
    codes raises AttributeError, so `_build` takes the default locale's codes instead."""
    code = fake.state_abbr()  # AttributeError: no such provider for this locale
    return code if code.isascii() and code.isalpha() else ""


def _state(fake: Any) -> str:
    for method in ("state", "administrative_unit", "region", "province", "prefecture"):
        if hasattr(fake, method):
            return getattr(fake, method)()
    return fake.city()


# kind -> how one value is drawn from a Faker instance of the pool's locale
KINDS: dict[str, Callable[[Any], str]] = {
    "first_name": lambda fake: fake.first_name(),
    "last_name": lambda fake: fake.last_name(),
    "full_name": _full_name,
    "user_name": _user_name,
    "street_address": lambda fake: fake.street_address(),
    "city": lambda fake: fake.city(),
    "state": _state,
    "state_abbr": _state_abbr,
    "postcode": lambda fake: fake.postcode(),
    "country": lambda fake: fake.country(),
    "company": lambda fake: fake.company(),
    "job": lambda fake: fake.job(),
    "phone": lambda fake: fake.phone_number(),
    "iban": lambda fake: fake.iban(),
    "user_agent": lambda fake: fake.user_agent(),
    "sentence": lambda fake: fake.sentence(),
    "paragraph": lambda fake: fake.paragraph(nb_sentences=3),
    "word": lambda fake: fake.word(),
    "color": lambda fake: fake.color_name(),
}

_pools: dict[tuple[str, str], list[str]] = {}
_fakers: dict[str, Any] = {}
_lock = threading.Lock()


def pool(locale: str, kind: str) -> list[str]:
    """The values of `kind` for `locale` (built on first use; the same list afterwards)."""
    found = _pools.get((locale, kind))
    if found is not None:
        return found
    with _lock:
        found = _pools.get((locale, kind))
        if found is None:
            found = _build(locale, kind)
            _pools[(locale, kind)] = found
        return found


def pools_built(locale: str) -> bool:
    """Whether the pool of every kind is built for `locale` (warming more is then useless)."""
    return all((locale, kind) in _pools for kind in KINDS)


def _build(locale: str, kind: str) -> list[str]:
    """Draw a pool from Faker, seeded by the kind alone (callers hold `_lock`)."""
    fake = _fakers.get(locale)
    if fake is None:
        from faker import Faker

        # Unweighted draws are 10-100x faster (en_US names: 0.6 us instead of 38-63 us) and
        # a pool of distinct values has no use for Faker's frequency weights.
        fake = Faker(locale, use_weighting=False)
        _fakers[locale] = fake
    fake.seed_instance(zlib.crc32(kind.encode()))
    draw = KINDS[kind]
    values: dict[str, None] = {}  # ordered and free of repeats
    try:
        for _ in range(POOL_SIZE * 2):
            value = str(draw(fake)).strip()
            if value:
                values[value] = None
            if len(values) >= POOL_SIZE:
                break
    except Exception:  # a provider this locale lacks: the default locale's values
        if locale != DEFAULT_LOCALE:
            return _build(DEFAULT_LOCALE, kind)
        raise
    if not values and locale != DEFAULT_LOCALE:  # every value refused (non-ASCII state codes)
        return _build(DEFAULT_LOCALE, kind)
    return list(values) or [kind]


_locales: list[str] | None = None
_LOCALIZED = re.compile(r"^localized\s*=\s*True\b", re.MULTILINE)


def available_locales() -> list[str]:
    """Faker's locales (`de_DE`, `en`, `en_US`, ...), found as `faker.config` finds them but
    without importing Faker: the sub-packages of every localized provider package."""
    global _locales
    if _locales is None:
        spec = importlib.util.find_spec("faker")
        roots = list(spec.submodule_search_locations or ()) if spec is not None else []
        found: set[str] = set()
        for root in roots:
            providers = Path(root) / "providers"
            for provider in pkgutil.iter_modules([str(providers)]):
                folder = providers / provider.name
                if not provider.ispkg or not _is_localized(folder / "__init__.py"):
                    continue
                found.update(
                    locale.name for locale in pkgutil.iter_modules([str(folder)]) if locale.ispkg
                )
        _locales = sorted(found)
    return _locales


def _is_localized(init: Path) -> bool:
    """Whether a provider package declares `localized = True` (read, not imported)."""
    try:
        return _LOCALIZED.search(init.read_text(encoding="utf-8")) is not None
    except OSError:
        return False


_SHOWN = 40  # characters of a refused locale echoed in the error


def check_locale(locale: str) -> str:
    """`locale` in Faker's spelling (`de-DE` -> `de_DE`); ConfigError when Faker has no such
    locale, naming it and some that exist."""
    text = str(locale).strip().replace("-", "_")
    language, _, country = text.partition("_")
    normal = f"{language.lower()}_{country.upper()}" if country else language.lower()
    known = available_locales()
    if normal in known:
        return normal
    near = [name for name in known if name.split("_")[0] == normal.split("_")[0]]
    examples = near or ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "ja_JP", "pt_BR"]
    given = str(locale)
    shown = given if len(given) <= _SHOWN else given[:_SHOWN] + "..."
    raise ConfigError(
        f"unknown locale {shown!r}: use a Faker locale such as {', '.join(examples[:8])} "
        f'({len(known)} in all; list them with `python -c "from faker.config import '
        f'AVAILABLE_LOCALES; print(AVAILABLE_LOCALES)"`)'
    )
