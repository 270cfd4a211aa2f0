"""Personal values from Faker, in the locale of each row's country, consistent within the row: an
e-mail is built from the row's first and last (or full) name in the styles the real column uses, at
a domain it uses often or one of the row's locale; a full name from the row's first and last names
where the table has them; a phone in the shape real phones of the row's country have."""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dbtwin.schema.model import SemanticType
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
    SemanticType.EMAIL: lambda f: f"{ascii_word(f.user_name()) or 'user'}@{f.free_email_domain()}",
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
            out[i] = " ".join(str(generate(f)).replace("\n", ", ").split())  # one line, single spaces
    return out


#: How an e-mail's local part is made from a (first, last) name.
STYLES = ("first.last", "flast", "firstlast", "firstl", "first", "first_last", "last", "other")


def email_style(local: str, first: str, last: str) -> str:
    """Which of :data:`STYLES` a real local part follows (digits after it aside)."""
    f, l_ = ascii_word(first), ascii_word(last)
    core = re.sub(r"\d+$", "", local.lower())
    if not f or not l_:
        return "other"
    candidates = {
        "first.last": f"{f}.{l_}",
        "flast": f[0] + l_,
        "firstlast": f + l_,
        "firstl": f + l_[0],
        "first": f,
        "first_last": f"{f}_{l_}",
        "last": l_,
    }
    return next((style for style, text in candidates.items() if core == text), "other")


def _local_part(style: str, first: str, last: str, digits: int) -> str:
    text = {
        "first.last": f"{first}.{last}",
        "flast": first[:1] + last,
        "firstlast": first + last,
        "firstl": first + last[:1],
        "first": first,
        "first_last": f"{first}_{last}",
        "last": last,
    }.get(style, f"{first}.{last}")
    return text.strip("._") + (str(digits) if digits else "")


@dataclass
class EmailStyle:
    """How the real column writes e-mails: styles of local part, digits after it, domains."""

    styles: dict[str, float] = field(default_factory=lambda: {"first.last": 1.0})
    digits_share: float = 0.0
    domains: list[str] = field(default_factory=list)
    domain_weights: list[float] = field(default_factory=list)
    #: the share of real e-mails at one of ``domains``; the rest get a domain of the row's locale
    frequent_share: float = 1.0


def emails(
    names: list[tuple[str, str] | None], locales: list[str], style: EmailStyle, rng: np.random.Generator
) -> list[str]:
    """An e-mail per row from its (first, last) name (a Faker user name where it has none), written
    in the real column's styles, at one of its frequent domains or a domain of the row's locale."""
    styles = list(style.styles)
    p = np.array([style.styles[s] for s in styles], dtype=np.float64)
    picks = rng.choice(len(styles), size=len(names), p=p / p.sum())
    frequent = rng.random(len(names)) < style.frequent_share if style.domains else np.zeros(len(names), bool)
    w = np.asarray(style.domain_weights or [1.0], dtype=np.float64)
    domain_picks = rng.choice(len(w), size=len(names), p=w / w.sum())
    digits = rng.random(len(names)) < style.digits_share
    out = []
    for i, (name, locale) in enumerate(zip(names, locales, strict=True)):
        f = faker(locale)
        f.seed_instance(int(rng.integers(0, 2**32)))
        domain = style.domains[domain_picks[i]] if frequent[i] else _domain(f, rng)
        first, last = (ascii_word(name[0]), ascii_word(name[1])) if name else ("", "")
        local = _local_part(styles[picks[i]], first, last, int(rng.integers(1, 100)) if digits[i] else 0)
        if not first or not last or not local:
            local = ascii_word(f.user_name()) or "user"
        out.append(f"{local}@{domain}")
    return out


def _domain(f, rng: np.random.Generator) -> str:
    """A free e-mail domain or a company domain of the locale, half and half."""
    return f.free_email_domain() if rng.random() < 0.5 else f.domain_name()


def ascii_word(text: str | None) -> str:
    """Lower-case ASCII letters and digits of ``text`` (accents dropped): what an e-mail address takes."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def phone_shape(value: str) -> str:
    """A phone's shape: a leading ``+`` and the digits after it (the country's calling code) kept,
    every other digit a ``9`` (``+55 (12) 3923-5555`` -> ``+55 (99) 9999-9999``)."""
    match = re.match(r"^(\+\d+)", value)
    head = match.group(1) if match else ""
    return head + re.sub(r"\d", "9", value[len(head) :])


def fill_phone(shape: str, rng: np.random.Generator) -> str:
    match = re.match(r"^(\+\d+)", shape)
    head = match.group(1) if match else ""
    digits = iter(rng.integers(0, 10, size=len(shape)))
    return head + "".join(str(next(digits)) if c == "9" else c for c in shape[len(head) :])
