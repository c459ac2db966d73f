from __future__ import annotations

import pytest

from agent.redaction import MASK, Redactor

SHAPES = [
    "Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJhcGkifQ.c2lnbmF0dXJl",
    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=bXlrZXlteWtleW15a2V5bXlrZXk=;",
    "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abcDEF123=",
    "https://acct.blob.core.windows.net/c/b?sv=2024-01-01&se=2026&sig=AbCdEf%2F123%3D",
    "key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA in a log",
    "postgres://admin:s3cretpass@db.internal:5432/shop",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "Server=tcp:x.database.windows.net;Database=shop;User ID=app;Password=Pa55word!;",
    "DB_PASSWORD=hunter22",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
]

SECRET_PARTS = ["c2lnbmF0dXJl", "bXlrZXlteWtleW15a2V5bXlrZXk=", "abcDEF123=", "AbCdEf%2F123%3D",
                "AAAAAAAAAAAAAAAAAAAAAAAA", "s3cretpass", "MIIEowIBAAKCAQEA", "Pa55word!",
                "hunter22", "abcdefghijklmnopqrstuvwxyz0123456789"]


@pytest.mark.parametrize(("text", "secret"), list(zip(SHAPES, SECRET_PARTS, strict=True)))
def test_well_known_token_shapes_are_masked(text: str, secret: str) -> None:
    masked = Redactor().text(text)
    assert secret not in masked
    assert MASK in masked


def test_values_of_secret_named_environment_variables_are_masked_anywhere() -> None:
    redactor = Redactor.from_environment({"MY_SERVICE_TOKEN": "tok-123456789", "HOME": "/root",
                                          "PLAIN": "visible-value"})
    assert redactor.text("x tok-123456789 y /root visible-value") == \
        f"x {MASK} y /root visible-value"


def test_short_values_are_not_treated_as_secrets() -> None:
    redactor = Redactor(["abc"])
    assert redactor.text("abc") == "abc"


def test_nested_structures_are_masked_by_value_and_by_field_name() -> None:
    redactor = Redactor(["canary-value-1"])
    masked = redactor.value({"settings": [{"name": "API_KEY", "apiKey": "zzzzzz"},
                                          "see canary-value-1"], "max_tokens": 100})
    assert masked == {"settings": [{"name": "API_KEY", "apiKey": MASK}, f"see {MASK}"],
                      "max_tokens": 100}
