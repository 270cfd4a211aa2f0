"""Personal values from Faker, in the locale of each row's country, consistent within the row: an
e-mail is built from the row's first and last (or full) name and a domain the real column uses often,
a full name from the row's first and last names where the table has them."""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings
from collections.abc import Callable

import numpy as np

from dbtwin.semantic.detect import SemanticType
from dbtwin.semantic.locales import country_locales

DEFAULT_LOCALE = "en_US"


@functools.cache
def faker(locale: str):
    """One Faker generator per locale (building one takes tens of milliseconds)."""
    from faker import Faker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Faker(locale)


def _state(f, short: bool = False) -> str:
    names = ("state_abbr", "province_abbr") if short else ()
    for name in (*names, "administrative_unit", "state", "province", "region"):
        method = getattr(f, name, None)
        if method is not None:
            try:
                return str(method())
            except (AttributeError, TypeError):
                continue
    return str(f.city())


def _country(f) -> str:
    names = list(country_locales())
    return names[f.random_int(0, len(names) - 1)]


_GENERATORS: dict[SemanticType, Callable] = {
    SemanticType.FIRST_NAME: lambda f: f.first_name(),
    SemanticType.LAST_NAME: lambda f: f.last_name(),
    SemanticType.FULL_NAME: lambda f: f"{f.first_name()} {f.last_name()}",
    SemanticType.PHONE: lambda f: f.phone_number(),
    SemanticType.STREET_ADDRESS: lambda f: f.street_address(),
    SemanticType.CITY: lambda f: f.city(),
    SemanticType.STATE: _state,
    SemanticType.POSTAL_CODE: lambda f: f.postcode(),
    SemanticType.COUNTRY: _country,
    SemanticType.COMPANY: lambda f: f.company(),
    SemanticType.URL: lambda f: f.url(),
    SemanticType.IP_ADDRESS: lambda f: f.ipv4(),
    SemanticType.IBAN: lambda f: f.iban(),
    SemanticType.CARD_NUMBER: lambda f: f.credit_card_number(),
    SemanticType.EMAIL: lambda f: f"{f.user_name()}@{f.free_email_domain()}",
}


def fake_values(semantic: SemanticType, locales: list[str], rng: np.random.Generator, short: bool = False) -> list[str]:
    """One value of ``semantic`` per row, each in its row's locale; ``short`` states as abbreviations
    where the locale has them (``CA``, ``SP``), as the real column writes them."""
    out: list[str] = [""] * len(locales)
    generate = functools.partial(_state, short=short) if semantic == SemanticType.STATE else _GENERATORS[semantic]
    by_locale: dict[str, list[int]] = {}
    for i, loc in enumerate(locales):
        by_locale.setdefault(loc, []).append(i)
    for loc, rows in sorted(by_locale.items()):
        f = faker(loc)
        f.seed_instance(int(rng.integers(0, 2**32)))
        for i in rows:
            out[i] = generate(f)
    return out


def emails(
    names: list[tuple[str, str] | None], domains: list[str], weights: list[float], rng: np.random.Generator
) -> list[str]:
    """An e-mail per row from its (first, last) name, or a Faker user name where it has none, at one of
    ``domains`` (drawn by ``weights``) or a free e-mail domain."""
    f = faker(DEFAULT_LOCALE)
    f.seed_instance(int(rng.integers(0, 2**32)))
    p = np.asarray(weights, dtype=np.float64)
    picks = rng.choice(len(domains), size=len(names), p=p / p.sum()) if domains else None
    styles = rng.integers(0, 4, size=len(names))
    out = []
    for i, name in enumerate(names):
        domain = domains[picks[i]] if picks is not None else f.free_email_domain()
        first, last = (ascii_word(name[0]), ascii_word(name[1])) if name else ("", "")
        if not first and not last:
            local = f.user_name()
        elif styles[i] == 0 or not first:
            local = f"{first}.{last}".strip(".")
        elif styles[i] == 1:
            local = f"{first[0]}{last}"
        elif styles[i] == 2:
            local = f"{first}{last}"
        else:
            local = f"{first}.{last}{rng.integers(1, 100)}"
        out.append(f"{local or f.user_name()}@{domain}")
    return out


def ascii_word(text: str | None) -> str:
    """Lower-case ASCII letters and digits of ``text`` (accents dropped): what an e-mail address takes."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())
