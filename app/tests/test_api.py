import pytest
from django.test import Client

from portfolios.models import Holding, Portfolio

pytestmark = pytest.mark.django_db


def test_portfolio_list_has_totals(client, portfolio):
    Portfolio.objects.create(name="Empty")

    response = client.get("/api/portfolios/")

    assert response.status_code == 200
    assert [(p["name"], p["holding_count"], p["total_cost_basis"]) for p in response.json()] == [
        ("Empty", 0, "0.00"),
        ("Retirement", 2, "1750.25"),
    ]


def test_portfolio_detail_has_holdings_and_totals(client, portfolio):
    response = client.get(f"/api/portfolios/{portfolio.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Retirement"
    assert body["holding_count"] == 2
    assert body["total_cost_basis"] == "1750.25"
    assert [(h["symbol"], h["quantity"], h["cost_basis"], h["unit_cost"]) for h in body["holdings"]] == [
        ("AAPL", "10", "1500.00", "150.0000"),
        ("VWCE", "2.5", "250.25", "100.1000"),
    ]


def test_unknown_portfolio_is_404(client):
    assert client.get("/api/portfolios/999999/").status_code == 404


def test_create_portfolio(client):
    response = client.post("/api/portfolios/", {"name": "Savings"}, content_type="application/json")

    assert response.status_code == 201
    assert response.json()["holding_count"] == 0
    assert response.json()["total_cost_basis"] == "0.00"
    assert Portfolio.objects.filter(name="Savings").exists()


def test_portfolio_name_is_unique(client, portfolio):
    response = client.post("/api/portfolios/", {"name": "Retirement"}, content_type="application/json")

    assert response.status_code == 400
    assert "name" in response.json()
    assert Portfolio.objects.count() == 1


def test_create_holding_uppercases_symbol(client, portfolio):
    response = client.post(
        "/api/holdings/",
        {"portfolio": portfolio.pk, "symbol": "brk.b", "quantity": "3", "cost_basis": "1200.50"},
        content_type="application/json",
    )

    assert response.status_code == 201
    assert response.json()["symbol"] == "BRK.B"
    holding = Holding.objects.get(pk=response.json()["id"])
    assert (holding.symbol, str(holding.quantity), str(holding.cost_basis)) == (
        "BRK.B",
        "3.000000",
        "1200.50",
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"symbol": "AA PL"}, "symbol"),
        ({"symbol": ""}, "symbol"),
        ({"symbol": "X" * 17}, "symbol"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "ten"}, "quantity"),
        ({"cost_basis": "-0.01"}, "cost_basis"),
        ({"cost_basis": "1.001"}, "cost_basis"),
        ({"portfolio": 999999}, "portfolio"),
        ({"symbol": "aapl"}, "non_field_errors"),  # already held
    ],
)
def test_create_holding_rejects_bad_input(client, portfolio, change, field):
    body = {"portfolio": portfolio.pk, "symbol": "MSFT", "quantity": "1", "cost_basis": "300"}

    response = client.post("/api/holdings/", body | change, content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert Holding.objects.count() == 2


def test_holdings_list_filters_by_portfolio(client, portfolio):
    other = Portfolio.objects.create(name="Other")
    Holding.objects.create(portfolio=other, symbol="MSFT", quantity=1, cost_basis=300)

    everything = client.get("/api/holdings/").json()
    filtered = client.get(f"/api/holdings/?portfolio={other.pk}").json()

    assert sorted(h["symbol"] for h in everything) == ["AAPL", "MSFT", "VWCE"]
    assert [h["symbol"] for h in filtered] == ["MSFT"]
    assert client.get("/api/holdings/?portfolio=x").status_code == 400


def test_delete_holding(client, portfolio):
    holding = portfolio.holdings.get(symbol="AAPL")

    response = client.delete(f"/api/holdings/{holding.pk}/")

    assert response.status_code == 204
    assert list(portfolio.holdings.values_list("symbol", flat=True)) == ["VWCE"]


def test_logged_in_writes_need_the_csrf_token(django_user_model, portfolio):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("ann", password="x"))
    token = "A" * 32
    client.cookies["csrftoken"] = token
    body = {"portfolio": portfolio.pk, "symbol": "MSFT", "quantity": "1", "cost_basis": "300"}

    without = client.post("/api/holdings/", body, content_type="application/json")
    with_token = client.post(
        "/api/holdings/", body, content_type="application/json", headers={"X-CSRFToken": token}
    )

    assert without.status_code == 403
    assert "CSRF" in without.json()["detail"]
    assert with_token.status_code == 201
