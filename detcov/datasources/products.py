"""Products: which vendor product a device is, for rules whose log source is product-specific.

``detcov/datasources/products.yaml`` (package data) lists product keys with the device types they are and a
regular expression matched against a device's ``vendor product name`` text. A device can name its key with
``product_id:``. :func:`device_product` gives the key and how it was found, so rule health can say "needs Elastic
Defend; the EDR in Windows workstations is Microsoft Defender for Endpoint (mde)".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import Field

from detcov.userfiles import UserModel, validate_model


class ProductEntry(UserModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    types: tuple[str, ...]
    match: str


class ProductFile(UserModel):
    version: int
    file_type: str = Field(pattern="^product-catalog$")
    products: tuple[ProductEntry, ...]


@dataclass(frozen=True)
class Products:
    entries: tuple[ProductEntry, ...]

    def get(self, key: str) -> ProductEntry | None:
        return next((p for p in self.entries if p.id == key), None)

    def name(self, key: str) -> str:
        entry = self.get(key)
        return entry.name if entry else key

    def match(self, device_type: str | None, text: str) -> str | None:
        """The product key whose expression matches ``text`` (preferring products of ``device_type``)."""
        hits = [p for p in self.entries if re.search(p.match, text, re.IGNORECASE)]
        typed = [p for p in hits if device_type in p.types]
        best = typed or hits
        return best[0].id if best else None


@cache
def load_products() -> Products:
    ref = resources.files("detcov.datasources").joinpath("products.yaml")
    data: Any = yaml.load(ref.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return Products(validate_model(ProductFile, data, str(ref)).products)


def device_product(product_id: str | None, device_type: str | None, vendor: str | None, product: str | None,
                   name: str) -> tuple[str | None, str]:
    """(product key or None, how it was decided) for one inventory device."""
    products = load_products()
    if product_id:
        return (product_id, "product_id") if products.get(product_id) else (None, f"unknown product_id {product_id!r}")
    text = " ".join(x for x in (vendor, product, name) if x)
    key = products.match(device_type, text)
    return (key, f"matched {text!r}") if key else (None, "")
