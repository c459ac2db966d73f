"""Checkout pricing of the shop service."""

from __future__ import annotations

from app import CheckoutError, checkout_total, list_products


def test_checkout_prices_each_line_and_totals_the_cart() -> None:
    result = checkout_total([{"sku": "MUG-2", "qty": 2}, {"sku": "FLT-3", "qty": 1}])
    assert [line["line_cents"] for line in result["lines"]] == [2400, 450]
    assert result["total_cents"] == 2850
    assert result["total"] == "28.50"


def test_expensive_carts_get_the_loyalty_discount() -> None:
    result = checkout_total([{"sku": "GRD-4", "qty": 1}])
    assert result["discount_cents"] == 345
    assert result["total_cents"] == 6555


def test_unknown_sku_is_rejected() -> None:
    try:
        checkout_total([{"sku": "NOPE", "qty": 1}])
    except CheckoutError as exc:
        assert "NOPE" in str(exc)
    else:
        raise AssertionError("an unknown sku was accepted")


def test_catalogue_lists_every_product() -> None:
    assert {p["sku"] for p in list_products()} == {"COF-1", "MUG-2", "FLT-3", "GRD-4"}


def test_empty_cart_checks_out_to_zero() -> None:
    result = checkout_total([])
    assert result["lines"] == []
    assert result["total_cents"] == 0
    assert result["total"] == "0.00"
