"""Realistic leaf values by field name and format, from small built-in word lists.

Each function draws from the caller's RNG, so values stay deterministic. A value returned here is
only a proposal: the generator keeps it when it fits the schema's constraints.
"""

from __future__ import annotations

import base64
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["format_value", "normalise_name", "value_for_name"]

FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Diego",
    "Emma",
    "Farah",
    "Goran",
    "Hana",
    "Ivan",
    "Julia",
    "Kenji",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
]
LAST = [
    "Silva",
    "Novak",
    "Martin",
    "Okafor",
    "Schmidt",
    "Rossi",
    "Tanaka",
    "Kowalski",
    "Garcia",
    "Nguyen",
    "Jensen",
    "Dubois",
    "Haddad",
    "Murphy",
    "Larsen",
    "Costa",
]
CITIES = [
    "Lisbon",
    "Berlin",
    "Toronto",
    "Osaka",
    "Nairobi",
    "Lyon",
    "Austin",
    "Krakow",
    "Porto",
    "Seattle",
    "Melbourne",
    "Bogota",
    "Oslo",
    "Dublin",
]
COUNTRIES = [
    ("Portugal", "PT"),
    ("Germany", "DE"),
    ("Canada", "CA"),
    ("Japan", "JP"),
    ("Kenya", "KE"),
    ("France", "FR"),
    ("United States", "US"),
    ("Poland", "PL"),
    ("Australia", "AU"),
    ("Colombia", "CO"),
    ("Norway", "NO"),
    ("Ireland", "IE"),
]
STREETS = [
    "Oak Street",
    "Maple Avenue",
    "Harbour Road",
    "Station Square",
    "Mill Lane",
    "River Walk",
    "Park Terrace",
    "King Street",
]
COMPANIES = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Labs",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Imports",
]
WORDS = [
    "alpha",
    "bright",
    "cedar",
    "delta",
    "ember",
    "falcon",
    "granite",
    "harbor",
    "iris",
    "juniper",
    "kestrel",
    "lumen",
    "meadow",
    "nova",
    "orbit",
    "pioneer",
    "quartz",
    "river",
    "summit",
    "tundra",
]
SENTENCES = [
    "A reliable choice for everyday use.",
    "Updated with the latest changes.",
    "Created during the spring release.",
    "Handles the common cases well.",
    "Reviewed and approved by the team.",
    "Ready for the next step.",
]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CAD", "CHF", "AUD", "BRL"]
COLORS = ["red", "green", "blue", "orange", "purple", "teal", "black", "white"]
LANGUAGES = ["en", "pt", "de", "fr", "ja", "es", "pl", "nb"]
LOCALES = ["en-US", "pt-PT", "de-DE", "fr-FR", "ja-JP", "es-ES"]
STATUSES = ["active", "pending", "completed", "archived"]


def normalise_name(name: str | None) -> str:
    """`createdAt`, `created_at`, `Created-At` -> `createdat`."""
    return re.sub(r"[^a-z0-9]", "", (name or "").lower())


def _moment(rng: random.Random) -> datetime:
    start = datetime(2021, 1, 1, tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(0, 5 * 365 * 24 * 3600))


def format_value(fmt: str, rng: random.Random) -> Any:
    """A value for a string format, or None when the format is not known."""
    fmt = fmt.lower()
    if fmt == "date-time":
        return _moment(rng).strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "date":
        return _moment(rng).date().isoformat()
    if fmt == "time":
        return _moment(rng).strftime("%H:%M:%SZ")
    if fmt in ("email", "idn-email"):
        return f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}@example.com"
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt in ("uri", "url", "iri", "uri-reference", "iri-reference"):
        return f"https://example.com/{rng.choice(WORDS)}/{rng.randint(1, 9999)}"
    if fmt in ("hostname", "idn-hostname"):
        return f"{rng.choice(WORDS)}.example.com"
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


def value_for_name(name: str | None, kind: str, rng: random.Random) -> Any:
    """A realistic value for a field of this name and JSON type, or None for no idea."""
    n = normalise_name(name)
    if not n:
        return None
    if kind == "string":
        if n in ("email", "emailaddress") or n.endswith("email"):
            return format_value("email", rng)
        if n.endswith(("createdat", "updatedat", "deletedat", "modifiedat", "timestamp")) or (
            n.endswith("at")
            and len(n) > 4
            and n[:-2].endswith(
                ("creat", "updat", "delet", "modifi", "publish", "expir", "start", "end", "sent")
            )
        ):
            return format_value("date-time", rng)
        if n.endswith(("date", "birthday", "dob")):
            return format_value("date", rng)
        if n in ("firstname", "givenname"):
            return rng.choice(FIRST)
        if n in ("lastname", "surname", "familyname"):
            return rng.choice(LAST)
        if n in ("fullname", "displayname", "name", "ownername", "customername", "username"):
            if n == "username":
                return f"{rng.choice(FIRST).lower()}{rng.randint(1, 99)}"
            return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if n.endswith(("phone", "phonenumber", "mobile")):
            return f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        if n == "city" or n.endswith("city"):
            return rng.choice(CITIES)
        if n in ("countrycode", "country") or n.endswith("countrycode"):
            country, code = rng.choice(COUNTRIES)
            return code if n.endswith("code") else country
        if n in ("street", "address", "addressline", "addressline1", "streetaddress"):
            return f"{rng.randint(1, 250)} {rng.choice(STREETS)}"
        if n in ("zip", "zipcode", "postalcode", "postcode"):
            return f"{rng.randint(10000, 99999)}"
        if n in ("company", "companyname", "organization", "organisation"):
            return rng.choice(COMPANIES)
        if n in ("title", "subject", "headline"):
            return f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)}"
        if n in ("description", "summary", "comment", "notes", "note", "message", "bio"):
            return rng.choice(SENTENCES)
        if n.endswith(
            ("url", "website", "homepage", "link", "avatar", "image", "picture", "photo", "href")
        ):
            return format_value("uri", rng)
        if n in ("currency", "currencycode"):
            return rng.choice(CURRENCIES)
        if n in ("color", "colour"):
            return rng.choice(COLORS)
        if n in ("language", "lang"):
            return rng.choice(LANGUAGES)
        if n == "locale":
            return rng.choice(LOCALES)
        if n in ("ip", "ipaddress", "clientip"):
            return format_value("ipv4", rng)
        if n.endswith("token") or n in ("apikey", "secret"):
            return "tok_" + "".join(rng.choice("abcdef0123456789") for _ in range(24))
        if n == "status" or n == "state":
            return rng.choice(STATUSES)
        if n in ("id", "uuid", "guid") or n.endswith(("uuid", "guid")):
            return format_value("uuid", rng)
        if n == "slug":
            return f"{rng.choice(WORDS)}-{rng.choice(WORDS)}"
        if n == "tag" or n.endswith("tag"):
            return rng.choice(WORDS)
        return None
    if kind in ("integer", "number"):
        if n == "id" or n.endswith("id") or n.endswith("ids"):
            return rng.randint(1, 100_000)
        if n in ("age",):
            return rng.randint(18, 90)
        if n in ("year",):
            return rng.randint(2015, 2026)
        if n.endswith(("quantity", "count", "qty", "total", "size")) and kind == "integer":
            return rng.randint(1, 50)
        if n.endswith(("price", "amount", "cost", "total", "balance", "fee", "salary")):
            return round(rng.uniform(1, 500), 2) if kind == "number" else rng.randint(1, 500)
        if n in ("latitude", "lat"):
            return round(rng.uniform(-80, 80), 6)
        if n in ("longitude", "lng", "lon", "long"):
            return round(rng.uniform(-170, 170), 6)
        if n.endswith(("rating", "score")):
            return round(rng.uniform(1, 5), 1) if kind == "number" else rng.randint(1, 5)
        if n in ("page", "limit", "perpage", "pagesize"):
            return rng.randint(1, 50)
        return None
    return None
