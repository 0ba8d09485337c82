"""Which device recorded a FIT file, in the words dedup reads priority from.

dedup decides a record's priority by the first brand word of `origin_device`
(DESIGN.md §3: "Garmin Edge 530" is a Garmin recording whoever carried it), so
the name must start with the maker's usual brand, not the profile's enum
("wahoo_fitness" is "Wahoo"). The product comes from the most specific source
present: the creator's `device_info.product_name` (Wahoo, COROS write one),
then `file_id.product_name`, then the profile's product enum made readable
("fr735xt" is "Forerunner 735XT"); a bare product number says nothing to a
person and is left out of the name (it stays in details).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

MANUFACTURERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "garmin": "Garmin",
        "dynastream": "Dynastream",
        "dynastream_oem": "Dynastream",
        "wahoo_fitness": "Wahoo",
        "polar_electro": "Polar",
        "suunto": "Suunto",
        "coros": "COROS",
        "sigmasport": "Sigma Sport",
        "zwift": "Zwift",
        "stryd": "Stryd",
        "bryton": "Bryton",
        "hammerhead": "Hammerhead",
        "strava": "Strava",
        "whoop": "WHOOP",
        "development": "Development",
        "tacx": "Tacx",
        "favero_electronics": "Favero",
        "srm": "SRM",
        "4iiiis": "4iiii",
        "trainer_road": "TrainerRoad",
        "the_sufferfest": "The Sufferfest",
        "lezyne": "Lezyne",
        "magene": "Magene",
        "igpsport": "iGPSPORT",
        "decathlon": "Decathlon",
    }
)
# Product-enum word -> how Garmin writes it.
PRODUCT_WORDS: Final[Mapping[str, str]] = MappingProxyType(
    {"fr": "Forerunner", "hrm": "HRM", "sdm": "SDM", "vivo": "Vivo", "gps": "GPS"}
)
_PARTS = re.compile(r"[a-z]+|\d+")
MAX_NAME: Final[int] = 120


@dataclass(frozen=True)
class Device:
    manufacturer: str | None  # the profile's enum name, or the number when unknown
    product: str | None  # enum name (e.g. "edge_530") or number
    product_name: str | None  # readable: "Edge 530", "ELEMNT BOLT"
    serial: int | None
    software_version: float | None

    @property
    def origin(self) -> str | None:
        brand = brand_name(self.manufacturer)
        if self.product_name and brand:
            if self.product_name.casefold().startswith(brand.casefold()):
                return self.product_name
            return f"{brand} {self.product_name}"
        return self.product_name or brand

    def as_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manufacturer": self.manufacturer,
            "product": self.product,
            "product_name": self.product_name,
            "serial": self.serial,
        }
        if self.software_version is not None:
            out["software_version"] = self.software_version
        return out


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        cleaned = value.replace("\x00", "").strip()
        return cleaned[:MAX_NAME] or None
    return None


def _enum(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _text(value)


def brand_name(manufacturer: str | None) -> str | None:
    if manufacturer is None or manufacturer.isdigit():
        return None
    known = MANUFACTURERS.get(manufacturer)
    if known is not None:
        return known
    return " ".join(word.capitalize() for word in manufacturer.split("_") if word) or None


def product_label(product: str | None) -> str | None:
    """ "edge_1030_plus" -> "Edge 1030 Plus", "fr735xt" -> "Forerunner 735XT"."""
    if product is None or product.isdigit():
        return None
    words: list[str] = []
    for part in _PARTS.findall(product.casefold()):
        if part in PRODUCT_WORDS:
            words.append(PRODUCT_WORDS[part])
        elif part.isdigit():
            words.append(part)
        elif words and words[-1].isdigit() and len(part) <= 3:
            words[-1] += part.upper()  # model suffixes: 735XT, 945 LTE stays a word
        else:
            words.append(part.capitalize())
    return " ".join(words) or None


def _product(fields: Mapping[str, Any]) -> str | None:
    # The decoder names the product by its sub-field when the maker has one.
    for name in ("garmin_product", "favero_product", "product"):
        value = _enum(fields.get(name))
        if value is not None:
            return value
    return None


def _serial(fields: Mapping[str, Any]) -> int | None:
    value = fields.get("serial_number")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _version(fields: Mapping[str, Any]) -> float | None:
    value = fields.get("software_version")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def device_of(file_id: Mapping[str, Any], creator: Mapping[str, Any] | None) -> Device:
    """The recording device from `file_id` and the creator's `device_info` (either may be empty)."""
    creator = creator or {}
    manufacturer = _enum(file_id.get("manufacturer")) or _enum(creator.get("manufacturer"))
    product = _product(file_id) or _product(creator)
    name = (
        _text(creator.get("product_name"))
        or _text(file_id.get("product_name"))
        or product_label(product)
    )
    return Device(
        manufacturer=manufacturer,
        product=product,
        product_name=name,
        serial=_serial(file_id) or _serial(creator),
        software_version=_version(creator),
    )


def is_creator(fields: Mapping[str, Any]) -> bool:
    """The device_info describing the recording device itself (index 0, "creator")."""
    index = fields.get("device_index")
    return index == "creator" or (
        isinstance(index, int) and not isinstance(index, bool) and index == 0
    )
