"""Deterministic sellers and products for a local stack: the same seed gives the same catalog."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ulid import ULID

from gitgoods.contract.ids import utc_iso
from storefront.common.ddb import to_item
from storefront.common.pii import PiiProtector

COUNTRY_CURRENCY = {
    "US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR",
    "NL": "EUR", "JP": "JPY", "CA": "CAD", "AU": "AUD",
}
COUNTRY_WEIGHTS = {"US": 30, "GB": 12, "DE": 12, "FR": 8, "ES": 5, "IT": 5, "NL": 4, "JP": 10, "CA": 7, "AU": 7}
PLATFORMS = ["PC", "PlayStation 5", "Xbox Series X|S", "Nintendo Switch", "PlayStation 4"]
GENRES = ["Action", "RPG", "Strategy", "Sports", "Racing", "Puzzle", "Shooter", "Adventure",
          "Simulation", "Horror", "Platformer", "Fighting"]
GIFT_CARD_STORES = ["Steam", "PlayStation Store", "Xbox Store", "Nintendo eShop"]
ADJECTIVES = ["Crimson", "Silent", "Neon", "Eternal", "Broken", "Hidden", "Iron", "Stellar",
              "Savage", "Frozen", "Golden", "Shadow", "Lost", "Wild", "Arcane", "Pixel", "Hyper",
              "Ancient", "Rogue", "Cosmic"]
NOUNS = ["Legends", "Kingdom", "Drift", "Protocol", "Odyssey", "Frontier", "Dungeon", "Arena",
         "Saga", "Empire", "Horizon", "Circuit", "Realms", "Outpost", "Tactics", "Rally", "Quest",
         "Siege", "Voyage", "Hollow"]
MERCH = ["T-Shirt", "Hoodie", "Poster", "Figure", "Mug", "Keychain", "Controller Skin", "Art Book",
         "Plush", "Cap"]
SELLER_WORDS = ["Pixel", "Byte", "Quest", "Loot", "Respawn", "Combo", "Crit", "Level", "Boss",
                "Retro", "Arcade", "Cartridge", "Joystick", "Save", "Checkpoint", "Speedrun"]
SELLER_SUFFIX = ["Games", "Store", "Emporium", "Trading", "Hub", "Depot", "Market", "Vault", "Shop"]
# kind mix by seller category
CATEGORY_KINDS = {
    "games": {"game": 70, "dlc": 30},
    "merch": {"merch": 100},
    "gift_cards": {"gift_card": 100},
    "mixed": {"game": 45, "dlc": 15, "merch": 30, "gift_card": 10},
}
CATEGORY_WEIGHTS = {"games": 45, "merch": 20, "gift_cards": 8, "mixed": 27}


def seeded_id(prefix: str, at: datetime, rng: random.Random) -> str:
    ms = int(at.timestamp() * 1000)
    return f"{prefix}_{ULID.from_bytes(ms.to_bytes(6, 'big') + rng.randbytes(10))}"


def _price(rng: random.Random, kind: str, currency: str) -> int:
    usd_cents = {
        "game": rng.choice([999, 1499, 1999, 2999, 3999, 4999, 5999, 6999]),
        "dlc": rng.choice([299, 499, 799, 999, 1499, 1999]),
        "merch": rng.choice([999, 1499, 1999, 2499, 2999, 3999, 5999]),
        "gift_card": rng.choice([1000, 2000, 2500, 5000, 10000]),
    }[kind]
    if currency == "JPY":
        return round(usd_cents * 1.5 / 10) * 10  # whole yen, minor unit exponent 0
    factor = {"USD": 1.0, "EUR": 0.95, "GBP": 0.8, "CAD": 1.35, "AUD": 1.5}[currency]
    cents = int(usd_cents * factor)
    return cents - cents % 100 + 99 if kind != "gift_card" else cents - cents % 100


@dataclass
class Catalog:
    sellers: list[dict[str, Any]]
    products: list[dict[str, Any]]


def generate(seed: int, n_sellers: int = 60, n_products: int = 1200, start: datetime | None = None) -> Catalog:
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    countries = list(COUNTRY_WEIGHTS)
    sellers = []
    names = set()
    for i in range(n_sellers):
        country = rng.choices(countries, weights=list(COUNTRY_WEIGHTS.values()))[0]
        category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
        while True:
            name = f"{rng.choice(SELLER_WORDS)} {rng.choice(SELLER_WORDS)} {rng.choice(SELLER_SUFFIX)}"
            if name not in names:
                names.add(name)
                break
        sellers.append({
            "seller_id": seeded_id("sel", start + timedelta(hours=i), rng),
            "display_name": name,
            "country": country,
            "currency": COUNTRY_CURRENCY[country],
            "category": category,
            # Popularity drives the simulator's choice of products (a long tail of sellers).
            "popularity": round(rng.paretovariate(1.2), 3),
            "contact_email": f"seller{i}@{name.split()[0].lower()}-{i}.example",
        })
    products = []
    for i in range(n_products):
        # Every seller gets at least one product, the rest go to sellers by a skewed draw.
        seller = sellers[i] if i < n_sellers else rng.choices(
            sellers, weights=[s["popularity"] for s in sellers])[0]
        mix = CATEGORY_KINDS[seller["category"]]
        kind = rng.choices(list(mix), weights=list(mix.values()))[0]
        genre = rng.choice(GENRES)
        platform = rng.choice(PLATFORMS)
        franchise = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        if kind == "game":
            title = f"{franchise}" + (f" {rng.randint(2, 5)}" if rng.random() < 0.25 else "")
        elif kind == "dlc":
            title = f"{franchise}: {rng.choice(['Season Pass', 'Expansion', 'Soundtrack', 'Skin Pack', 'Story DLC'])}"
        elif kind == "merch":
            title = f"{franchise} {rng.choice(MERCH)}"
            platform = "Merchandise"
        else:
            store = rng.choice(GIFT_CARD_STORES)
            title = f"{store} Gift Card"
            platform = store
            genre = "Gift Card"
        stock = rng.randint(5000, 20000) if kind in ("gift_card", "dlc") else rng.randint(300, 3000)
        products.append({
            "product_id": seeded_id("prd", start + timedelta(minutes=i), rng),
            "seller_id": seller["seller_id"],
            "title": title,
            "kind": kind,
            "platform": platform,
            "genre": genre,
            "price_cents": _price(rng, kind, seller["currency"]),
            "currency": seller["currency"],
            "stock": stock,
            "active": rng.random() > 0.02,
            "created_at": utc_iso(start),
        })
    return Catalog(sellers, products)


def write(ddb: Any, catalog: Catalog, catalog_table: str, sellers_table: str, pii: PiiProtector) -> None:
    """Write sellers (contact e-mail encrypted) and products; overwrites the same ids."""
    seller_items = []
    for seller in catalog.sellers:
        sealed = pii.seal("sellers", seller["seller_id"], {"contact_email": seller["contact_email"]})
        public = {k: v for k, v in seller.items() if k not in ("contact_email", "popularity")}
        seller_items.append({**public, "contact_email": sealed["contact_email"], "pii_key": sealed["pii_key"]})
    for table, items in ((sellers_table, seller_items), (catalog_table, catalog.products)):
        for start in range(0, len(items), 25):
            request = {table: [{"PutRequest": {"Item": to_item(i)}} for i in items[start : start + 25]]}
            while request:
                request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
