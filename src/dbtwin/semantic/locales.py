"""Which Faker locale fits a country value: a country's English name, its ISO 3166 two- or three-letter
code, or a common short form (``USA``, ``UK``), matched case-insensitively. Countries Faker has no
locale for fall back to the database's most common locale, or ``en_US``."""

from __future__ import annotations

import functools
import re

#: The locale used for a country that several locales share (Canada: English; Belgium: Dutch).
_PREFERRED = {
    "CA": "en_CA",
    "CH": "de_CH",
    "BE": "nl_BE",
    "US": "en_US",
    "GB": "en_GB",
    "IN": "en_IN",
    "ES": "es_ES",
    "IE": "en_IE",
    "PH": "en_PH",
    "NG": "en_NG",
    "LU": "de_LU",
    "DK": "da_DK",
    "FR": "fr_FR",
    "DE": "de_DE",
    "IT": "it_IT",
    "NL": "nl_NL",
    "PT": "pt_PT",
    "BR": "pt_BR",
    "AT": "de_AT",
}
_DEPRECATED = {"fr_QC"}
_ALIASES = {
    "usa": "US",
    "us": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "czechia": "CZ",
    "holland": "NL",
    "the netherlands": "NL",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
    "iran": "IR",
    "vietnam": "VN",
    "taiwan": "TW",
    "china": "CN",
    "japan": "JP",
}
#: (ISO 3166 alpha-2, alpha-3, English name) of the countries Faker has locales for.
_COUNTRIES = (
    ("US", "USA", "United States"),
    ("CA", "CAN", "Canada"),
    ("GB", "GBR", "United Kingdom"),
    ("DE", "DEU", "Germany"),
    ("FR", "FRA", "France"),
    ("IT", "ITA", "Italy"),
    ("ES", "ESP", "Spain"),
    ("PT", "PRT", "Portugal"),
    ("BR", "BRA", "Brazil"),
    ("AR", "ARG", "Argentina"),
    ("MX", "MEX", "Mexico"),
    ("CL", "CHL", "Chile"),
    ("CO", "COL", "Colombia"),
    ("VE", "VEN", "Venezuela"),
    ("NL", "NLD", "Netherlands"),
    ("BE", "BEL", "Belgium"),
    ("CH", "CHE", "Switzerland"),
    ("AT", "AUT", "Austria"),
    ("DK", "DNK", "Denmark"),
    ("NO", "NOR", "Norway"),
    ("SE", "SWE", "Sweden"),
    ("FI", "FIN", "Finland"),
    ("PL", "POL", "Poland"),
    ("CZ", "CZE", "Czech Republic"),
    ("SK", "SVK", "Slovakia"),
    ("HU", "HUN", "Hungary"),
    ("RO", "ROU", "Romania"),
    ("BG", "BGR", "Bulgaria"),
    ("GR", "GRC", "Greece"),
    ("TR", "TUR", "Turkey"),
    ("RU", "RUS", "Russian Federation"),
    ("UA", "UKR", "Ukraine"),
    ("IN", "IND", "India"),
    ("CN", "CHN", "China"),
    ("JP", "JPN", "Japan"),
    ("KR", "KOR", "Republic of Korea"),
    ("AU", "AUS", "Australia"),
    ("NZ", "NZL", "New Zealand"),
    ("IE", "IRL", "Ireland"),
    ("IL", "ISR", "Israel"),
    ("EG", "EGY", "Egypt"),
    ("SA", "SAU", "Saudi Arabia"),
    ("AE", "ARE", "United Arab Emirates"),
    ("IR", "IRN", "Islamic Republic of Iran"),
    ("TH", "THA", "Thailand"),
    ("VN", "VNM", "Viet Nam"),
    ("ID", "IDN", "Indonesia"),
    ("PH", "PHL", "Philippines"),
    ("PK", "PAK", "Pakistan"),
    ("BD", "BGD", "Bangladesh"),
    ("NG", "NGA", "Nigeria"),
    ("KE", "KEN", "Kenya"),
    ("ZA", "ZAF", "South Africa"),
    ("HR", "HRV", "Croatia"),
    ("SI", "SVN", "Slovenia"),
    ("EE", "EST", "Estonia"),
    ("LV", "LVA", "Latvia"),
    ("LT", "LTU", "Lithuania"),
    ("IS", "ISL", "Iceland"),
    ("LU", "LUX", "Luxembourg"),
    ("MT", "MLT", "Malta"),
    ("CY", "CYP", "Cyprus"),
    ("TW", "TWN", "Taiwan"),
)
_BY_ALPHA3 = {a3: a2 for a2, a3, _ in _COUNTRIES}
_BY_NAME = {name.lower(): a2 for a2, _, name in _COUNTRIES}


@functools.cache
def _locales_by_country() -> dict[str, str]:
    """ISO two-letter code -> locale, for every locale that names a country."""
    from faker.config import AVAILABLE_LOCALES

    out: dict[str, str] = {}
    for locale in AVAILABLE_LOCALES:
        match = re.fullmatch(r"[a-z]{2,3}_([A-Z]{2})", locale)
        if match and locale not in _DEPRECATED:
            out.setdefault(match.group(1), locale)
    out.update({code: loc for code, loc in _PREFERRED.items() if loc in AVAILABLE_LOCALES})
    return out


def country_code(value: object) -> str | None:
    """The ISO two-letter code a country value stands for, if dbtwin knows it."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    lowered = text.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    if len(text) == 3 and text.upper() in _BY_ALPHA3:
        return _BY_ALPHA3[text.upper()]
    if len(text) == 2 and text.upper() in _locales_by_country():
        return text.upper()
    return _BY_NAME.get(lowered.removeprefix("the "))


def locale_of(value: object) -> str | None:
    """The Faker locale of a country value, if there is one."""
    code = country_code(value)
    return _locales_by_country().get(code) if code else None


def country_locales() -> dict[str, str]:
    """Every country dbtwin knows a locale for: its English name -> the locale."""
    by_code = _locales_by_country()
    return {name: by_code[a2] for a2, _, name in _COUNTRIES if a2 in by_code}
