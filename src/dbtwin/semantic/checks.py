"""Format checks of semantic values: what detection reads from a column's values and what every
generated value must pass (an e-mail parses, an IBAN's check digits hold, a card number passes Luhn)."""

from __future__ import annotations

import functools
import ipaddress
import re

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_URL = re.compile(r"^(https?://|www\.)[^\s/$.?#][^\s]*$", re.IGNORECASE)
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/x]+$")


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value)) and ".." not in value


def is_url(value: str) -> bool:
    return bool(_URL.match(value))


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_iban(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not _IBAN.match(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def is_card_number(value: str) -> bool:
    digits = value.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_phone(value: str) -> bool:
    """Digits with the usual separators, 7 to 15 digits before any extension."""
    if not _PHONE_CHARS.match(value.strip()):
        return False
    main = re.split(r"x", value, maxsplit=1)[0]
    return 7 <= sum(c.isdigit() for c in main) <= 15


@functools.cache
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """Every first and every last name in Faker's name lists, over all its locales."""
    from faker.config import AVAILABLE_LOCALES

    from dbtwin.semantic.fake import faker

    first: set[str] = set()
    last: set[str] = set()
    for locale in AVAILABLE_LOCALES:
        for provider in faker(locale).providers:
            if ".person." in type(provider).__module__:
                for attr, out in (("first_names", first), ("last_names", last)):
                    out.update(str(n) for n in getattr(provider, attr, ()) or ())
                for attr in ("first_names_male", "first_names_female", "first_names_nonbinary"):
                    first.update(str(n) for n in getattr(provider, attr, ()) or ())
    return frozenset(first), frozenset(last)


def is_first_name(value: str) -> bool:
    """A name from the lists, or several (given names: ``George Thomas``)."""
    first = name_lists()[0]
    return value in first or all(w in first for w in value.split())


#: Lower-case words that join the parts of a compound surname (``Alves Moura da Cruz``, ``van Dijk``).
PARTICLES = frozenset(
    {"da", "das", "de", "del", "della", "der", "di", "do", "dos", "du", "e", "la", "le", "van", "von", "y", "zu"}
)


def is_last_name(value: str) -> bool:
    """A name from the lists, or several joined by particles (``Alves Moura da Cruz``)."""
    last = name_lists()[1]
    words = value.split()
    return value in last or (any(w in last for w in words) and all(w in last or w in PARTICLES for w in words))


def is_full_name(value: str) -> bool:
    parts = value.split()
    return len(parts) >= 2 and is_first_name(parts[0]) and is_last_name(parts[-1])
