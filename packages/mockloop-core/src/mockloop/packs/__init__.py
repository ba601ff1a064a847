"""The fifteen scenario packs as data files, their loader, and their application to an API."""

from mockloop.packs.apply import AppliedPack, apply_pack
from mockloop.packs.loader import PackCollection, load_pack_file, load_packs, parse_pack_uri
from mockloop.packs.models import PACK_CATEGORIES, ScenarioPack

__all__ = [
    "PACK_CATEGORIES",
    "AppliedPack",
    "PackCollection",
    "ScenarioPack",
    "apply_pack",
    "load_pack_file",
    "load_packs",
    "parse_pack_uri",
]
