"""Realistic leaf values by field name and format, drawn from Faker's localized data.

Names, places, companies, jobs and texts come from the pools of `mockloop.fake.pools` (Faker,
imported on first use); codes and identifiers (ISO codes, currencies, URL words) from small
ASCII lists here. Every function draws from the caller's RNG, so values stay deterministic. A
value returned here is only a proposal: the faker keeps it when it fits the schema's
constraints and falls back to constraint-driven values otherwise.
"""

from __future__ import annotations

import base64
import functools
import importlib
import math
import random
import re
import string
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import rstr

from mockloop.fake.pools import DEFAULT_LOCALE, pool
from mockloop.spec.patterns import pattern_search
from mockloop.spec.validation import FORMAT_CHECKER

__all__ = [
    "WORDS",
    "format_value",
    "name_tokens",
    "pattern_string",
    "search",
    "value_for_name",
]


def _words(text: str) -> list[str]:
    return text.split()


def _split(text: str) -> list[str]:
    return text.split("|")


# (name, ISO 3166 alpha-2, alpha-3): codes for `countryCode` fields, and the short
# alternatives of a `country` whose name does not fit its schema.
COUNTRIES = [
    tuple(entry.split(":"))
    for entry in _split(
        "Portugal:PT:PRT|Germany:DE:DEU|Canada:CA:CAN|Japan:JP:JPN|Kenya:KE:KEN|France:FR:FRA|"
        "United States:US:USA|Poland:PL:POL|Australia:AU:AUS|Colombia:CO:COL|Norway:NO:NOR|"
        "Ireland:IE:IRL"
    )
]
# ASCII words for identifiers (URL paths, host names, slugs, object keys, filler text): they
# must stay ASCII whatever the locale, and cost nothing to load.
WORDS = _words(
    "alpha bright cedar delta ember falcon granite harbor iris juniper kestrel lumen meadow nova "
    "orbit pioneer quartz river summit tundra"
)
CURRENCIES = _words("USD EUR GBP JPY CAD CHF AUD BRL")
LANGUAGES = _words("en pt de fr ja es pl nb")
LOCALES = _words("en-US pt-PT de-DE fr-FR ja-JP es-ES")
STATUSES = _words("active pending completed archived")
_HEX = "0123456789abcdef"
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)
_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@functools.lru_cache(maxsize=4096)
def name_tokens(name: str | None) -> tuple[str, ...]:
    """`createdAt`, `created_at`, `Created-At`, `CREATED_AT` -> `("created", "at")`."""
    if not name:
        return ()
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return tuple(t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t)


def _moment(rng: random.Random) -> datetime:
    start = datetime(2021, 1, 1, tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(0, 5 * 365 * 24 * 3600))


def _draw(rng: random.Random, locale: str, kind: str) -> str:
    """A value of `kind` in `locale`, drawn with the caller's RNG from the pool."""
    return rng.choice(pool(locale, kind))


def format_value(fmt: str, rng: random.Random, locale: str = DEFAULT_LOCALE) -> Any:
    """A string for a known `format`, or None when the format is not known; emails, URIs and
    host names come as a tuple of alternatives, shorter ones later."""
    fmt = fmt.lower()
    if fmt == "date-time":
        return _moment(rng).strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "date":
        return _moment(rng).date().isoformat()
    if fmt == "time":
        return _moment(rng).strftime("%H:%M:%SZ")
    if fmt in ("email", "idn-email"):
        user = _draw(rng, locale, "user_name")
        # The cut must stay a dot-atom: no `.` (nor `_`/`-`, for looks) at its end.
        short = user[:12].rstrip("._-") or user[0]
        return f"{user}@example.com", f"{short}@example.com", f"{user[0]}@ex.io"
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt in ("uri", "url", "iri", "uri-reference", "iri-reference"):
        word = rng.choice(WORDS)
        return f"https://example.com/{word}/{rng.randint(1, 9999)}", f"https://{word}.io", "a:b"
    if fmt in ("hostname", "idn-hostname"):
        word = rng.choice(WORDS)
        return f"{word}.example.com", f"{word}.io", word[:1]
    if fmt == "ipv4":
        return f"192.0.2.{rng.randint(1, 254)}"
    if fmt == "ipv6":
        return f"2001:db8::{rng.randint(1, 0xFFFF):x}"
    if fmt == "byte":
        return base64.b64encode(rng.randbytes(9)).decode()
    if fmt == "binary":
        return rng.choice(WORDS) + "-bytes"
    if fmt == "password":
        return f"S3cret-{rng.randint(1000, 9999)}"
    if fmt == "duration":
        return f"P{rng.randint(1, 30)}D"
    if fmt == "json-pointer":
        return f"/{rng.choice(WORDS)}/{rng.randint(0, 9)}"
    if fmt == "regex":
        return "^[a-z]+$"
    if fmt == "uri-template":
        return "https://example.com/{id}"
    return None


def _string_for_name(tokens: tuple[str, ...], rng: random.Random, locale: str) -> Any:
    """A string, or a tuple of alternatives best first (`PT`, `PRT`), or None."""
    joined = "".join(tokens)
    last = tokens[-1]
    if last == "email" or joined.endswith("emailaddress"):
        return format_value("email", rng, locale)
    if (
        last == "at"
        or joined.endswith(("timestamp", "datetime"))
        or joined in ("created", "updated")
    ):
        return format_value("date-time", rng)
    if last in ("birthday", "dob") or joined in ("birthdate", "dateofbirth"):
        return f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if last == "date":
        return format_value("date", rng)
    if last == "id" or last in ("uuid", "guid"):
        return format_value("uuid", rng), str(rng.randint(1, 100_000))
    if joined in ("firstname", "givenname", "forename"):
        return _draw(rng, locale, "first_name")
    if joined in ("lastname", "surname", "familyname"):
        return _draw(rng, locale, "last_name")
    if joined == "username" or joined in ("login", "handle", "nickname"):
        return _draw(rng, locale, "user_name")
    if joined == "thingname":  # the name of something that is not a person
        return rng.choice(WORDS).capitalize()
    if last == "name":
        if joined in ("name", "fullname", "displayname", "contactname", "personname") or (
            tokens[0] in ("customer", "owner", "author", "user", "contact", "account", "holder")
        ):
            return _draw(rng, locale, "full_name")
        if joined in ("companyname", "organizationname", "organisationname", "businessname"):
            return _draw(rng, locale, "company")
        if joined in ("filename",):
            return f"{rng.choice(WORDS)}-{rng.randint(1, 99)}.pdf"
        if joined in ("hostname",):
            return format_value("hostname", rng)
        return f"{rng.choice(WORDS)}-{rng.choice(WORDS)}"
    if last in ("phone", "mobile", "fax") or joined.endswith(("phonenumber", "telephone")):
        phone = _draw(rng, locale, "phone")
        digits = "".join(c for c in phone if c.isdigit())
        return phone, ("+" if phone.startswith("+") else "") + digits, digits[-10:]
    if last == "city" or joined == "town":
        return _draw(rng, locale, "city")
    if last == "country" or joined.endswith(("countrycode", "countryiso")):
        _, alpha2, alpha3 = rng.choice(COUNTRIES)
        if last == "country":
            return _draw(rng, locale, "country"), alpha2, alpha3
        return alpha2, alpha3
    if joined in ("statecode", "regioncode", "stateabbr", "provincecode"):
        return _draw(rng, locale, "state_abbr")
    addressed = tokens[0] in ("billing", "shipping", "home", "mailing", "address", "postal")
    if (
        last in ("region", "province", "county")
        or joined == "stateprovince"
        or (
            last == "state" and addressed  # `state` alone is a status, `billingState` a region
        )
    ):
        return _draw(rng, locale, "state"), _draw(rng, locale, "state_abbr")
    if joined in ("street", "address", "streetaddress", "addressline", "addressline1", "line1"):
        return _draw(rng, locale, "street_address")
    if joined in ("addressline2", "line2", "street2", "address2"):
        return f"Suite {rng.randint(1, 400)}"
    if last in ("ext", "extension") and "phone" in tokens:
        return str(rng.randint(10, 9999))
    if joined in ("zip", "zipcode", "postalcode", "postcode"):
        return _draw(rng, locale, "postcode"), f"{rng.randint(1000, 9999)}"
    if joined in ("company", "organization", "organisation", "employer", "business"):
        return _draw(rng, locale, "company")
    if joined in ("job", "jobtitle", "occupation", "profession", "position", "role"):
        return _draw(rng, locale, "job")
    if last == "iban":
        return _draw(rng, locale, "iban")
    if joined in ("useragent", "ua", "browser"):
        return _draw(rng, locale, "user_agent")
    if joined in ("title", "subject", "headline", "label", "caption"):
        return f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)}"
    if last in ("description", "about", "bio", "body", "content", "paragraph"):
        return _draw(rng, locale, "paragraph"), _draw(rng, locale, "sentence")
    if last in ("summary", "comment", "comments", "notes", "note", "sentence"):
        return _draw(rng, locale, "sentence")
    if joined in ("message", "text", "detail", "details", "reason"):
        return _draw(rng, locale, "sentence")
    if joined in ("word", "term"):
        return _draw(rng, locale, "word")
    if last in ("url", "uri", "website", "homepage", "link", "href", "avatar", "image", "photo"):
        return format_value("uri", rng)
    if last in ("picture", "thumbnail", "icon", "logo") or joined.endswith("imageurl"):
        return format_value("uri", rng)
    if last == "currency" or joined.endswith("currencycode"):
        return rng.choice(CURRENCIES)
    if last in ("color", "colour"):
        hexa = f"#{rng.getrandbits(24):06x}"
        return (_draw(rng, locale, "color"), hexa) if rng.random() < 0.5 else hexa
    if last in ("language", "lang", "locale"):
        index = rng.randrange(len(LOCALES))
        pair = (LOCALES[index], LANGUAGES[index])
        return pair if last == "locale" else pair[::-1]
    if joined in ("ip", "ipaddress", "clientip", "remoteip", "sourceip", "ipv4"):
        return format_value("ipv4", rng)
    if last in ("token", "secret") or joined in ("apikey", "accesskey"):
        return "tok_" + "".join(rng.choice(_TOKEN_CHARS) for _ in range(24))
    if last in ("status", "state"):
        return rng.choice(STATUSES)
    if joined == "slug":
        return f"{rng.choice(WORDS)}-{rng.choice(WORDS)}"
    if last in ("tag", "tags", "keyword", "category"):
        return rng.choice(WORDS)
    if last == "sha" or joined.endswith(("hash", "checksum", "etag")):
        return "".join(rng.choice(_HEX) for _ in range(40))
    return None


def _number_for_name(tokens: tuple[str, ...], integer: bool, rng: random.Random) -> Any:
    joined = "".join(tokens)
    last = tokens[-1]
    if last in ("id", "ids") or joined.endswith("id"):
        return rng.randint(1, 100_000)
    if last == "age":
        return rng.randint(18, 90)
    if last in ("status", "statuscode", "httpstatus") and integer:
        return rng.choice((200, 201, 202, 204, 400, 404, 409, 422, 500))
    if last == "year":
        return rng.randint(2015, 2026)
    if last in ("quantity", "qty", "count", "size", "number") or joined.startswith("num"):
        return rng.randint(1, 50)
    money = ("price", "amount", "cost", "total", "balance", "fee", "salary", "subtotal", "tax")
    if last in money:
        return rng.randint(1, 500) if integer else round(rng.uniform(1, 500), 2)
    if last in ("latitude", "lat"):
        return round(rng.uniform(-80, 80), 6)
    if last in ("longitude", "lng", "lon", "long"):
        return round(rng.uniform(-170, 170), 6)
    if last in ("rating", "score", "stars"):
        return rng.randint(1, 5) if integer else round(rng.uniform(1, 5), 1)
    if last in ("percent", "percentage"):
        return rng.randint(0, 100) if integer else round(rng.uniform(0, 100), 1)
    if last in ("page", "limit", "perpage", "pagesize") or joined in ("perpage", "pagesize"):
        return rng.randint(1, 50)
    if last in ("timestamp", "epoch") or last == "at":
        return int(_moment(rng).timestamp())
    return None


def value_for_name(
    name: str | None, kind: str, rng: random.Random, locale: str = DEFAULT_LOCALE
) -> Any:
    """A realistic value for a field of this name and JSON type, or None for no idea; strings
    may come as a tuple of alternatives, best first (`("Portugal", "PT", "PRT")`); names,
    places, companies and texts are in `locale` (a Faker locale, see `mockloop.fake.pools`)."""
    tokens = name_tokens(name)
    if not tokens:
        return None
    if kind == "string":
        return _string_for_name(tokens, rng, locale)
    if kind in ("integer", "number"):
        return _number_for_name(tokens, kind == "integer", rng)
    return None


# -- patterns -------------------------------------------------------------------------------


sre_parse: Any = importlib.import_module("re._parser")
sre_constants: Any = importlib.import_module("re._constants")
_PRINTABLE = string.ascii_letters + string.digits + string.punctuation + " "


class _TooLong(Exception):
    """Raised when generating from a pattern would take more steps than allowed."""


class _ShortXeger(rstr.Xeger):  # pyright: ignore[reportPrivateImportUsage]
    """rstr, but `*`, `+` and `{n,}` repeat at most `extra` times beyond their minimum (rstr
    allows 100), which keeps strings readable and within typical `maxLength`s. With `exact`,
    every repeat takes exactly `extra` more (as far as its maximum allows), which makes the
    length grow with `extra` and so lets a length window be searched for. Character sets are
    ordered (rstr builds some from Python sets, whose order changes between processes) and
    free of control characters; a range is drawn from without listing it (`[\\x00-\\U0010ffff]`
    would be a million characters).

    Generation is bounded: every element handled and every repeat iteration is a step, and
    `_TooLong` is raised past `steps` of them, so `a{1000000}` or `((a{1000}){1000}){1000}` in a
    description costs at most `steps`, never a megabyte string.
    """

    def __init__(self, rng: random.Random, extra: int, exact: bool = False, steps: int = 0) -> None:
        nonword = "".join(c for c in _PRINTABLE if not (c.isalnum() or c == "_"))
        super().__init__(rng, whitespace=" ", nonword=nonword, nonwhitespace=_PRINTABLE[:-1])
        self.extra = extra
        self.exact = exact
        self.steps = steps or _STEPS
        self._cases = {
            **self._cases,
            "any": lambda x: rng.choice(_PRINTABLE),
            "not_literal": lambda x: rng.choice(_PRINTABLE.replace(chr(x), "")),
            "groupref": self._groupref,
        }

    def _spend(self, count: int) -> None:
        self.steps -= count
        if self.steps < 0:
            raise _TooLong

    def _handle_state(self, state: Any) -> Any:
        self._spend(1)
        return super()._handle_state(state)

    def _groupref(self, group: Any) -> str:
        text = self._cache[group]
        self._spend(len(text))
        return text

    def _handle_in(self, value: Any) -> Any:
        negated = bool(value) and value[0][0] is sre_constants.NEGATE
        spans: list[tuple[int, int]] = []
        for op, av in value[1:] if negated else value:
            if op is sre_constants.LITERAL:
                spans.append((av, av))
            elif op is sre_constants.RANGE:
                spans.append((av[0], av[1]))
            else:
                spans.extend((ord(c), ord(c)) for c in self._handle_state((op, av)))
        if negated or not spans:
            allowed = [c for c in _PRINTABLE if not any(a <= ord(c) <= b for a, b in spans)]
            return self._random.choice(allowed or ["~"])
        # A span drawn in proportion to its size, then a character inside it.
        pick = self._random.randrange(sum(b - a + 1 for a, b in spans))
        for low, high in spans:
            if pick <= high - low:
                return chr(low + pick)
            pick -= high - low + 1
        return chr(spans[0][0])

    def _handle_repeat(self, start_range: int, end_range: int, value: Any) -> str:
        end_range = min(end_range, start_range + self.extra)
        if self.exact:
            start_range = end_range
        self._spend(start_range)
        return super()._handle_repeat(start_range, end_range, value)


_LOOKAROUND = re.compile(r"\(\?<?[=!][^()]*\)")
_COMPILED: dict[str, Any] = {}
_STEPS = 20_000  # pattern elements handled per generated string, beyond its length window


def _parses(pattern: str) -> bool:
    """Whether Python can parse `pattern`, which generating from it needs (never matched)."""
    compiled = _COMPILED.get(pattern)
    if compiled is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sre_parse.parse(pattern)
            compiled = True
        except Exception:  # re.error, RecursionError, OverflowError...
            compiled = False
        if len(_COMPILED) > 10_000:
            _COMPILED.clear()
        _COMPILED[pattern] = compiled
    return compiled


def search(pattern: str, text: str) -> bool:
    """Whether `text` matches `pattern` anywhere, never backtracking (RE2: time linear in
    the text, times the pattern's program size, see `mockloop.spec.patterns`); a pattern that
    cannot be checked constrains nothing."""
    return pattern_search(pattern, text)


def pattern_string(
    pattern: str, rng: random.Random, low: int = 0, high: int | None = None
) -> str | None:
    """A string matching `pattern` with `low <= len <= high`, or None when none was found.

    rstr generates from the pattern; lookarounds, which it cannot handle, are dropped first and
    the result is checked against the full pattern. A few bounded attempts, each limited in
    steps (see `_ShortXeger`): never a hang, never a string much longer than `high` (or
    `max(low, 64)`).
    """
    if not _parses(pattern):
        return None
    limit = high if high is not None else max(low, 64)
    sources = [pattern]
    stripped = _LOOKAROUND.sub("", pattern)
    if stripped != pattern:
        sources.append(stripped)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _generate(sources, pattern, rng, low, limit)


_SURROGATES = re.compile("[\ud800-\udfff]")


def _no_surrogates(text: str) -> str:
    """Ranges like [\\u0020-\\uFFFF] include lone surrogates, which no UTF-8 body can carry;
    they become "a" (the pattern is checked again by the caller)."""
    return _SURROGATES.sub("a", text)


def _generate(sources: list[str], pattern: str, rng: random.Random, low: int, limit: int) -> Any:
    steps = 2 * min(limit, max(low, 64) + _STEPS) + _STEPS

    def make(source: str, extra: int, exact: bool = False) -> str:
        return _ShortXeger(rng, extra, exact, steps).xeger(source)

    for source in sources:
        try:
            for extra in (8, 8, 3, 1, 0):
                try:
                    text = _no_surrogates(make(source, extra))
                except _TooLong:
                    continue
                if low <= len(text) <= limit and search(pattern, text):
                    return text
            # Search the repeat count that lands the length in [low, limit].
            first, last = 0, min(max(limit, low, 1), 512)
            while first < last:
                middle = (first + last) // 2
                try:
                    short = len(make(source, middle, True)) < low
                except _TooLong:
                    short = False
                if short:
                    first = middle + 1
                else:
                    last = middle
            for extra in (first, first, first + 1, max(0, first - 1)):
                try:
                    text = _no_surrogates(make(source, extra, True))
                except _TooLong:
                    continue
                if low <= len(text) <= limit and search(pattern, text):
                    return text
        except Exception:  # unsupported syntax (backreferences to unknown groups ...)
            continue
    return None


# -- constraint-driven scalars ----------------------------------------------------------------


def number_value(eff: dict[str, Any], rng: random.Random, name: Any, *, integer: bool) -> Any:
    """A number within the bounds and step of `eff`, realistic for `name` when that fits."""
    lo, lo_ex, hi, hi_ex = bounds(eff)
    step = as_number(eff.get("multipleOf"))
    step = step if step is not None and step > 0 else None
    if integer:
        fmt = eff.get("format")
        limits = {"int32": _INT32, "uint32": _UINT32, "uint64": _UINT64}.get(str(fmt), _INT64)
        ilo = limits[0] if lo is None else max(limits[0], _int_above(lo, lo_ex))
        ihi = limits[1] if hi is None else min(limits[1], _int_below(hi, hi_ex))
        if ilo > ihi:
            return ilo if lo is not None else ihi  # contradictory bounds: the best we can do

        def fits(v: Any) -> bool:
            return ilo <= v <= ihi and (step is None or _multiple(v, step))

        proposal = value_for_name(name, "integer", rng)
        if isinstance(proposal, (int, float)) and fits(int(proposal)):
            return int(proposal)
        a = ilo if lo is not None else (max(ilo, ihi - 1000) if hi is not None else 1)
        b = ihi if hi is not None else min(ihi, max(a, 0) + 1000)
        b = max(a, b)
        if step is not None:
            value = _pick_multiple(rng, a, b, step, integer=True)
            return int(value) if value is not None else a
        return rng.randint(a, b)

    # numbers
    def fits_float(v: float) -> bool:
        return (
            (lo is None or v > lo or (v == lo and not lo_ex))
            and (hi is None or v < hi or (v == hi and not hi_ex))
            and (step is None or _multiple(v, step))
        )

    proposal = value_for_name(name, "number", rng)
    if (
        isinstance(proposal, (int, float))
        and not isinstance(proposal, bool)
        and fits_float(proposal)
    ):
        return proposal
    if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_ex or hi_ex))):
        return lo  # contradictory bounds
    a = lo if lo is not None else (hi - 1000 if hi is not None and hi <= 1 else 1.0)
    b = hi if hi is not None else a + 1000
    if step is not None:
        value = _pick_multiple(rng, a, b, step, integer=False)
        if value is not None and fits_float(value):
            return value
    for _ in range(8):
        value = rng.uniform(a, b)
        for digits in (2, 4, 8):
            if fits_float(round(value, digits)):
                return round(value, digits)
        if fits_float(value):
            return value
    mid = (a + b) / 2
    return mid if fits_float(mid) else a


def string_value(
    eff: dict[str, Any], rng: random.Random, name: Any, locale: str = DEFAULT_LOCALE
) -> str:
    """A string for the format, patterns and lengths of `eff`, realistic for `name` (names,
    places and texts in `locale`)."""
    fmt = eff.get("format") if isinstance(eff.get("format"), str) else None
    patterns = [eff["pattern"]] if isinstance(eff.get("pattern"), str) else []
    patterns += [p for p in eff.get("\x00patterns", ()) if isinstance(p, str)]
    low = as_count(eff.get("minLength"), 0) or 0
    high = as_count(eff.get("maxLength"), None)
    if high is not None and high < low:
        high = low

    def fits(text: Any, check_format: bool = True) -> bool:
        return (
            isinstance(text, str)
            and low <= len(text) <= (high if high is not None else len(text))
            and all(search(p, text) for p in patterns)
            and (not check_format or fmt is None or FORMAT_CHECKER.conforms(text, fmt))
        )

    formatted = _alternatives(format_value(fmt, rng, locale) if fmt else None)
    for candidate in formatted:
        if fits(candidate, check_format=False):
            return candidate
    proposals = _alternatives(value_for_name(name, "string", rng, locale))
    for candidate in proposals:
        if fits(candidate):
            return candidate
    generated = None
    for source in patterns[:3] + ([_joined(patterns)] if len(patterns) > 1 else []):
        text = pattern_string(source, rng, low, high)
        generated = generated if text is None else text
        if text is not None and fits(text):
            return text
    filler = _filler(rng, low, high, name)
    if fits(filler):
        return filler
    for candidate in (generated, formatted[0], proposals[0]):
        if isinstance(candidate, str):
            return candidate
    return filler


def _alternatives(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def as_count(value: Any, default: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return default
    return int(value)


def as_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def bounds(eff: dict[str, Any]) -> tuple[Any, bool, Any, bool]:
    lo, hi = as_number(eff.get("minimum")), as_number(eff.get("maximum"))
    lo_ex = hi_ex = False
    ex_lo, ex_hi = as_number(eff.get("exclusiveMinimum")), as_number(eff.get("exclusiveMaximum"))
    if ex_lo is not None and (lo is None or ex_lo >= lo):
        lo, lo_ex = ex_lo, True
    if ex_hi is not None and (hi is None or ex_hi <= hi):
        hi, hi_ex = ex_hi, True
    return lo, lo_ex, hi, hi_ex


def _int_above(bound: float, exclusive: bool) -> int:
    value = math.ceil(bound)
    return value + 1 if exclusive and value == bound else value


def _int_below(bound: float, exclusive: bool) -> int:
    value = math.floor(bound)
    return value - 1 if exclusive and value == bound else value


def _multiple(value: Any, step: Any) -> bool:
    """jsonschema's own `multipleOf` test, so what passes here passes there."""
    if isinstance(step, float):
        try:
            quotient = value / step
            return int(quotient) == quotient
        except OverflowError:
            return (Fraction(value) / Fraction(step)).denominator == 1
        except (ValueError, ZeroDivisionError):
            return False
    if isinstance(value, float):
        return value.is_integer() and int(value) % step == 0
    return value % step == 0


def _pick_multiple(rng: random.Random, a: float, b: float, step: float, *, integer: bool) -> Any:
    """A multiple of `step` in [a, b]; for numbers a fractional one when there is one (so a
    number reads as a number, and differs from an integer branch of a oneOf)."""
    first, last = math.ceil(a / step), math.floor(b / step)
    if first > last:
        return None
    tries = [rng.randint(first, min(last, first + 1000)) for _ in range(6)]
    tries += list(range(first, min(last, first + 40) + 1))
    whole: Any = None
    for k in tries:
        value: Any = k * step
        if isinstance(step, float):
            value = round(value, 10)
        if integer:
            if not float(value).is_integer():
                continue
            value = int(value)
        if not a <= value <= b or not _multiple(value, step):
            continue
        if integer or not float(value).is_integer():
            return value
        whole = whole if whole is not None else value
    return whole


def _joined(patterns: list[str]) -> str:
    """Several patterns as one, best effort: `^a` and `z$` -> `^a.*z$`."""
    head = [p for p in patterns if p.startswith("^")][:1]
    tail = [p for p in patterns if p.endswith("$") and not p.endswith("\\$")][:1]
    middle = [p for p in patterns if p not in head and p not in tail]
    parts = [p.removesuffix("$") if p not in tail else p for p in head]
    parts += [p.strip("^$") for p in middle]
    parts += [p.removeprefix("^") for p in tail if p not in head]
    return ".{0,3}".join(
        f"(?:{p})" if i not in (0, len(parts) - 1) else p for i, p in enumerate(parts)
    )


def _filler(rng: random.Random, low: int, high: Any, name: Any) -> str:
    words = [f"{rng.choice(WORDS)}-{rng.randint(1, 999)}"]
    size = len(words[0])
    while size < low:
        words.append(rng.choice(WORDS))
        size += len(words[-1]) + 1
    text = " ".join(words)
    if high is not None and len(text) > high:
        text = text[:high]
    return text
