"""The admin, served with hashed static file names as in production (collectstatic first)."""

import re

import pytest
from django.core.management import call_command
from django.test import override_settings

from portfolios.models import Holding


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory):
    static_root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=static_root):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield static_root


@pytest.fixture
def admin_client(collected_static, admin_client):
    return admin_client


@pytest.mark.django_db
def test_admin_pages_use_hashed_static_files(admin_client, collected_static):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    css = re.search(r'href="/static/(admin/css/base\.[0-9a-f]{12}\.css)"', response.text)
    assert css, "the admin page does not link the hashed base.css"
    assert (collected_static / css.group(1)).is_file()


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["portfolio", "holding", "holdingimport", "portfoliosummary"])
def test_admin_lists_every_model(admin_client, portfolio, model):
    assert admin_client.get(f"/admin/portfolios/{model}/").status_code == 200


@pytest.mark.django_db
def test_admin_adds_a_holding_with_the_symbol_upper_cased(admin_client, portfolio):
    response = admin_client.post(
        "/admin/portfolios/holding/add/",
        {"portfolio": portfolio.pk, "symbol": " msft ", "quantity": "2", "cost_basis": "600"},
    )

    assert response.status_code == 302
    assert Holding.objects.filter(portfolio=portfolio, symbol="MSFT").exists()


@pytest.mark.django_db
def test_admin_refuses_a_zero_quantity(admin_client, portfolio):
    response = admin_client.post(
        "/admin/portfolios/holding/add/",
        {"portfolio": portfolio.pk, "symbol": "MSFT", "quantity": "0", "cost_basis": "600"},
    )

    assert response.status_code == 200
    assert "Must be greater than zero." in response.text
    assert not Holding.objects.filter(symbol="MSFT").exists()
