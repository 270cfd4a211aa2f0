"""Semantic types: detected from names and values on the bundled data and on tiny columns, set and
switched off in the metadata JSON, carried through SDV's metadata."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dbtwin.errors import SchemaError
from dbtwin.schema.metadata_json import schema_from_dict, schema_to_dict
from dbtwin.schema.sdv import schema_from_sdv, schema_to_sdv
from dbtwin.semantic.checks import is_card_number, is_email, is_iban, is_phone
from dbtwin.semantic.detect import SemanticType, detect_type, name_tokens
from dbtwin.semantic.locales import locale_of
from dbtwin.semantic.plan import semantic_types


def test_chinook_columns_get_the_types_a_person_would_give_them(chinook):
    types = semantic_types(chinook.schema, chinook)
    customer = types["customer"]
    assert customer["first_name"] == SemanticType.FIRST_NAME
    assert customer["last_name"] == SemanticType.LAST_NAME
    assert customer["email"] == SemanticType.EMAIL
    assert customer["city"] == SemanticType.CITY
    assert customer["country"] == SemanticType.COUNTRY
    assert customer["postal_code"] == SemanticType.POSTAL_CODE
    assert customer["phone"] == SemanticType.PHONE
    assert customer["company"] == SemanticType.COMPANY
    assert types["invoice"]["billing_address"] == SemanticType.STREET_ADDRESS
    assert types["track"]["name"] == SemanticType.FREE_TEXT
    assert types["album"]["title"] == SemanticType.FREE_TEXT
    assert "customer_id" not in customer  # keys get no type


def test_flights_names_are_text_and_categories_stay_categories(flights_jan):
    types = semantic_types(flights_jan.schema, flights_jan)
    assert types["airports"]["name"] == SemanticType.FREE_TEXT
    assert types["planes"]["manufacturer"] == SemanticType.NONE
    assert types["airports"]["tzone"] == SemanticType.NONE


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["ann@example.org", "bo.b@mail.co.uk", "x+y@a.io"] * 5, SemanticType.EMAIL),
        (["10.0.0.1", "192.168.1.20", "::1"] * 5, SemanticType.IP_ADDRESS),
        (["https://a.example.org/x", "www.b.com", "http://c.de"] * 5, SemanticType.URL),
        (["GB82WEST12345698765432", "DE89370400440532013000"] * 5, SemanticType.IBAN),
        (["4111111111111111", "5500005555555559", "340000000000009"] * 5, SemanticType.CARD_NUMBER),
    ],
)
def test_values_alone_decide_formats_that_prove_themselves(values, expected):
    assert detect_type("t", "whatever", pd.Series(values)) == expected


def test_random_digits_are_not_card_numbers_and_names_need_fitting_values():
    digits = pd.Series([f"{n:016d}" for n in range(10**15, 10**15 + 200)])
    assert detect_type("t", "reference", digits) != SemanticType.CARD_NUMBER
    assert detect_type("t", "email", pd.Series(["not an address"] * 20)) != SemanticType.EMAIL
    assert detect_type("t", "phone", pd.Series(["+1 (555) 010-9999", "555 0100"] * 10)) == SemanticType.PHONE
    assert detect_type("t", "city", pd.Series(["12345", "67890"] * 10)) != SemanticType.CITY


def test_name_tokens_split_every_spelling():
    assert name_tokens("billingPostalCode") == ["billing", "postal", "code"]
    assert name_tokens("Billing Postal-Code") == ["billing", "postal", "code"]
    assert detect_type("person", "name", pd.Series(["Ann Lee", "Bo Park"] * 10)) == SemanticType.FULL_NAME
    assert detect_type("artist", "name", pd.Series([f"Band {i}" for i in range(20)])) == SemanticType.FREE_TEXT


def test_checks():
    assert is_email("a.b@c.io") and not is_email("a..b@c.io") and not is_email("a@b")
    assert is_iban("GB82 WEST 1234 5698 7654 32") and not is_iban("GB82WEST12345698765433")
    assert is_card_number("4111-1111-1111-1111") and not is_card_number("4111111111111112")
    assert is_phone("+420 775 938 242") and is_phone("(447)659-3824x2194") and not is_phone("12")


def test_countries_find_their_locale():
    assert locale_of("USA") == "en_US"
    assert locale_of("Brazil") == "pt_BR"
    assert locale_of("deu") == "de_DE"
    assert locale_of("The Netherlands") == "nl_NL"
    assert locale_of("Atlantis") is None and locale_of(None) is None


def _schema_with(semantic: str | None, dtype: str = "string") -> dict:
    column = {"dtype": dtype, "kind": "text" if dtype == "string" else "integer"}
    if semantic is not None:
        column["semantic"] = semantic
    return {
        "format": "dbtwin-metadata",
        "version": 1,
        "tables": {"person": {"primary_key": ["id"], "columns": {"id": {"dtype": "int64", "kind": "id"}, "x": column}}},
        "foreign_keys": [],
    }


def test_metadata_sets_and_switches_off_types(chinook):
    schema = schema_from_dict(_schema_with("email"))
    assert schema.table("person").column("x").semantic == "email"
    assert schema_to_dict(schema)["tables"]["person"]["columns"]["x"]["semantic"] == "email"
    assert "semantic" not in schema_to_dict(schema_from_dict(_schema_with(None)))["tables"]["person"]["columns"]["x"]
    data = json.loads(json.dumps(schema_to_dict(chinook.schema)))
    data["tables"]["customer"]["columns"]["city"]["semantic"] = "none"
    off = schema_from_dict(data)
    assert semantic_types(off, chinook)["customer"]["city"] == SemanticType.NONE


@pytest.mark.parametrize(
    ("semantic", "dtype", "message"), [("emial", "string", "unknown semantic type"), ("email", "int64", "only string")]
)
def test_bad_semantic_types_name_the_column(semantic, dtype, message):
    with pytest.raises(SchemaError, match=message) as err:
        schema_from_dict(_schema_with(semantic, dtype))
    assert err.value.column == "x" and err.value.table == "person"


def test_sdv_pii_sdtypes_map_onto_semantic_types(chinook):
    data = json.loads(json.dumps(schema_to_dict(chinook.schema)))
    data["tables"]["customer"]["columns"]["email"]["semantic"] = "email"
    data["tables"]["customer"]["columns"]["first_name"]["semantic"] = "first_name"
    sdv, _ = schema_to_sdv(schema_from_dict(data), drop_unsupported=True)
    assert sdv["tables"]["customer"]["columns"]["email"] == {"sdtype": "email", "pii": True}
    assert sdv["tables"]["customer"]["columns"]["first_name"]["sdtype"] == "first_name"
    back = schema_from_sdv(sdv, chinook.tables)
    assert back.table("customer").column("email").semantic == "email"
    assert back.table("customer").column("first_name").semantic == "first_name"
    sdv["tables"]["customer"]["columns"]["phone"] = {"sdtype": "phone_number", "pii": True}
    assert schema_from_sdv(sdv, chinook.tables).table("customer").column("phone").semantic == "phone"


def test_a_compound_surname_joined_by_particles_is_a_last_name():
    from dbtwin.semantic.checks import is_last_name

    assert is_last_name("Alves Moura da Cruz") and is_last_name("Moura") and is_last_name("Alves Moura")
    assert not is_last_name("da") and not is_last_name("da dos")  # particles alone name nobody
    assert not is_last_name("Moura xqzvt") and not is_last_name("moura da cruz")
