"""Semantic types of text columns: what a string column holds (a first name, an e-mail, a city, free
text), detected from the column's name and its values.

A name suggests a type (``email``, ``zip``, ``last_name``); the values confirm it, and formats that
values alone prove (e-mails, URLs, IP addresses, IBANs, card numbers that pass the Luhn check) are
found whatever the column is called. Only string columns outside the keys get a type; the metadata
JSON can set one (``"semantic": "city"``) or switch it off (``"semantic": "none"``).
"""

from __future__ import annotations

import re

import pandas as pd

from dbtwin.schema.model import SemanticType
from dbtwin.semantic.checks import is_card_number, is_email, is_iban, is_ip_address, is_phone, is_url

#: Types whose values come from Faker (the rest: the column's text model, shapes or categories).
PERSONAL = frozenset(
    {
        SemanticType.FIRST_NAME,
        SemanticType.LAST_NAME,
        SemanticType.FULL_NAME,
        SemanticType.EMAIL,
        SemanticType.PHONE,
        SemanticType.STREET_ADDRESS,
        SemanticType.CITY,
        SemanticType.STATE,
        SemanticType.POSTAL_CODE,
        SemanticType.COUNTRY,
        SemanticType.COMPANY,
        SemanticType.URL,
        SemanticType.IP_ADDRESS,
        SemanticType.IBAN,
        SemanticType.CARD_NUMBER,
    }
)

#: Share of sampled values that must pass a format check for the values to decide the type.
MIN_VALID = 0.9
_PERSON_TABLES = re.compile(
    r"(customer|client|employee|person|people|user|member|contact|staff|patient|student|driver|player|"
    r"manager|owner|author|account_holder|buyer|seller|passenger|guest|worker)"
)
_VALUE_CHECKS = (
    (SemanticType.EMAIL, is_email),
    (SemanticType.URL, is_url),
    (SemanticType.IP_ADDRESS, is_ip_address),
    (SemanticType.IBAN, is_iban),
    (SemanticType.CARD_NUMBER, is_card_number),
)


def name_tokens(name: str) -> list[str]:
    """``billingPostalCode`` / ``billing_postal_code`` / ``Billing Postal Code`` -> billing, postal, code."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [t for t in re.split(r"[^a-zA-Z0-9]+", spaced.lower()) if t]


def type_from_name(table: str, column: str) -> SemanticType | None:
    """The type a column's name suggests, if any."""
    tokens = name_tokens(column)
    joined = "".join(tokens)
    words = set(tokens)
    if words & {"email", "mail"} or "email" in joined:
        return SemanticType.EMAIL
    if words & {"phone", "telephone", "tel", "mobile", "fax", "cell", "cellphone"} or "phone" in joined:
        return SemanticType.PHONE
    if words & {"url", "website", "homepage", "link"}:
        return SemanticType.URL
    if words & {"ip"} or joined in {"ipaddress", "ipv4", "ipv6"}:
        return SemanticType.IP_ADDRESS
    if "iban" in words:
        return SemanticType.IBAN
    if {"card", "number"} <= words or words & {"pan", "ccnumber", "creditcard"}:
        return SemanticType.CARD_NUMBER
    if words & {"zip", "zipcode", "postcode", "postal", "postalcode", "plz"}:
        return SemanticType.POSTAL_CODE
    if words & {"firstname", "forename", "fname", "givenname"} or (
        "name" in words and words & {"first", "given", "fore"}
    ):
        return SemanticType.FIRST_NAME
    if words & {"lastname", "surname", "lname", "familyname"} or ("name" in words and words & {"last", "family"}):
        return SemanticType.LAST_NAME
    if words & {"fullname", "contactname", "personname"} or (
        "name" in words and (words & {"full", "contact", "person"} or _PERSON_TABLES.search(table.lower()))
    ):
        return SemanticType.FULL_NAME
    if words & {"company", "employer", "organisation", "organization", "firm"}:
        return SemanticType.COMPANY
    if words & {"city", "town", "municipality"}:
        return SemanticType.CITY
    if words & {"state", "province", "region", "county"}:
        return SemanticType.STATE
    if "country" in words:
        return SemanticType.COUNTRY
    if words & {"address", "street", "addr"}:
        return SemanticType.STREET_ADDRESS
    return None


def detect_type(table: str, column: str, values: pd.Series, max_values: int = 2_000) -> SemanticType:
    """The semantic type of a string column from its name and (a sample of) its non-null values."""
    present = [str(v) for v in values.dropna().to_numpy(dtype=object)[:max_values]]
    if not present:
        return SemanticType.NONE
    for semantic, check in _VALUE_CHECKS:
        if _share(present, check) >= MIN_VALID:
            return semantic
    named = type_from_name(table, column)
    if named is not None and _confirmed(named, present):
        return named
    return _plain_type(present)


def _confirmed(semantic: SemanticType, values: list[str]) -> bool:
    """Whether values are compatible with the type their column's name suggests."""
    if semantic in {s for s, _ in _VALUE_CHECKS}:
        return _share(values, dict(_VALUE_CHECKS)[semantic]) >= MIN_VALID
    if semantic == SemanticType.PHONE:
        return _share(values, is_phone) >= MIN_VALID
    if semantic in {SemanticType.FIRST_NAME, SemanticType.LAST_NAME, SemanticType.CITY, SemanticType.COUNTRY}:
        return _share(values, lambda v: sum(c.isalpha() for c in v) >= 0.7 * len(v) > 0) >= MIN_VALID
    if semantic == SemanticType.POSTAL_CODE:
        return _share(values, lambda v: 2 <= len(v) <= 10 and any(c.isdigit() for c in v)) >= MIN_VALID
    return True


def _plain_type(values: list[str]) -> SemanticType:
    """Free text (words, spaces), codes (short, no spaces, digits or capitals) or a plain category."""
    distinct = len(set(values)) / len(values)
    spaced = _share(values, lambda v: " " in v.strip())
    lettered = _share(values, lambda v: sum(c.isalpha() for c in v) >= 0.5 * len(v) > 0)
    coded = _share(values, lambda v: " " not in v and (any(c.isdigit() for c in v) or v.isupper()))
    if coded >= MIN_VALID and distinct > 0.05:
        return SemanticType.CODE
    if lettered >= MIN_VALID and distinct > 0.3 and (spaced > 0.2 or distinct > 0.6):
        return SemanticType.FREE_TEXT
    return SemanticType.NONE


def _share(values: list[str], check) -> float:
    return sum(1 for v in values if check(v)) / len(values)
