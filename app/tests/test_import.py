from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portfolios.models import Holding, HoldingImport, Portfolio

pytestmark = pytest.mark.django_db

GOOD_CSV = b"symbol,quantity,cost_basis\nAAPL,10,1500.00\nmsft,2.5,800\nVWCE,4,420.10\n"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def empty_portfolio():
    return Portfolio.objects.create(name="Imported")


def upload(client, portfolio, content, name="holdings.csv"):
    return client.post(f"/api/portfolios/{portfolio.pk}/import/", {"file": SimpleUploadedFile(name, content)})


def stored_files(media_root):
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def assert_nothing_imported(media_root):
    assert Holding.objects.count() == 0
    assert HoldingImport.objects.count() == 0
    assert stored_files(media_root) == []


def test_good_file_imports_every_row_and_is_kept(client, empty_portfolio, media_root):
    response = upload(client, empty_portfolio, GOOD_CSV)

    assert response.status_code == 201
    body = response.json()
    assert body["imported"] == 3
    assert body["file"].startswith("imports/holdings")
    assert (media_root / body["file"]).read_bytes() == GOOD_CSV
    assert [(h.symbol, h.quantity, h.cost_basis) for h in empty_portfolio.holdings.all()] == [
        ("AAPL", Decimal(10), Decimal("1500.00")),
        ("MSFT", Decimal("2.5"), Decimal("800.00")),
        ("VWCE", Decimal(4), Decimal("420.10")),
    ]
    record = HoldingImport.objects.get()
    assert (record.pk, record.portfolio, record.rows) == (body["id"], empty_portfolio, 3)


def test_excel_style_file_with_bom_and_crlf_imports(client, empty_portfolio):
    content = "\ufeffSymbol,Quantity,Cost_Basis\r\nAAPL,1,150\r\n\r\nMSFT,1,300\r\n".encode()

    response = upload(client, empty_portfolio, content)

    assert response.status_code == 201
    assert response.json()["imported"] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"\n  \n", "The file is empty"),
        (b"symbol,quantity\nAAPL,1\n", "line 1: the header must be symbol,quantity,cost_basis"),
        (b"AAPL,10,1500\n", "line 1: the header must be symbol,quantity,cost_basis"),
        (b"symbol,quantity,cost_basis\n", "no holdings"),
        (b"symbol,quantity,cost_basis\nAAPL,ten,1500\n", "line 2: quantity:"),
        (b"symbol,quantity,cost_basis\nAAPL,10,1500\nMSFT,-1,300\n", "line 3: quantity:"),
        (b"symbol,quantity,cost_basis\nAAPL,10,1500\nMSFT,0,300\n", "line 3: quantity:"),
        (b"symbol,quantity,cost_basis\nAAPL,10,-5\n", "line 2: cost_basis:"),
        (b"symbol,quantity,cost_basis\nAAPL,NaN,5\n", "line 2: quantity:"),
        (b"symbol,quantity,cost_basis\nAA PL,1,5\n", "line 2: symbol:"),
        (b"symbol,quantity,cost_basis\nAAPL,1\n", "line 2: expected 3 fields"),
        (b"symbol,quantity,cost_basis\nAAPL,1,2,3\n", "line 2: expected 3 fields"),
        (b"symbol,quantity,cost_basis\nAAPL,1,2\n\nMSFT,1,2\naapl,1,2\n", "line 5: This portfolio"),
        (b"symbol,quantity,cost_basis\nAAPL,1,2\nMSFT,1,caf\xe9\n", "line 3: the file is not UTF-8"),
        (b'symbol,quantity,cost_basis\nAAPL,1,2\n"MSFT,1,2\n', "line 3: unexpected end of data"),
        (b'symbol,quantity,cost_basis\n"AAPL"x,1,2\n', "line 2: ',' expected after"),
    ],
)
def test_bad_file_is_rejected_whole(client, empty_portfolio, media_root, content, message):
    response = upload(client, empty_portfolio, content)

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert_nothing_imported(media_root)


def test_too_many_rows_are_rejected(client, empty_portfolio, media_root, settings):
    settings.PORTFOLIO_IMPORT_MAX_ROWS = 2

    response = upload(client, empty_portfolio, GOOD_CSV)

    assert response.status_code == 400
    assert response.json()["detail"] == "line 4: too many rows; one import takes at most 2."
    assert_nothing_imported(media_root)


def test_symbol_already_held_is_rejected(client, portfolio, media_root):
    before = list(portfolio.holdings.values_list("symbol", "quantity"))

    response = upload(client, portfolio, GOOD_CSV)

    assert response.status_code == 400
    assert response.json()["detail"] == "line 2: This portfolio already holds this symbol."
    assert list(portfolio.holdings.values_list("symbol", "quantity")) == before
    assert HoldingImport.objects.count() == 0
    assert stored_files(media_root) == []


def test_oversized_file_is_rejected_naming_the_limit(client, empty_portfolio, media_root, settings):
    limit = settings.PORTFOLIO_IMPORT_MAX_BYTES
    row = b"AAPL,1,1\n"
    content = b"symbol,quantity,cost_basis\n" + row * (3 * limit // len(row))
    # Larger than Django's own request limits too: they must not answer first (413 or 500).
    assert len(content) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert len(content) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE

    response = upload(client, empty_portfolio, content)

    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"The file is {len(content)} bytes; the import limit is {limit} bytes."
    )
    assert_nothing_imported(media_root)


def test_limit_is_inclusive(client, empty_portfolio, settings):
    settings.PORTFOLIO_IMPORT_MAX_BYTES = len(GOOD_CSV)

    assert upload(client, empty_portfolio, GOOD_CSV).status_code == 201
    settings.PORTFOLIO_IMPORT_MAX_BYTES = len(GOOD_CSV) - 1
    assert upload(client, empty_portfolio, GOOD_CSV).status_code == 400


def test_csv_sent_as_a_big_form_field_is_rejected_naming_the_limit(
    client, empty_portfolio, media_root, settings
):
    content = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = client.post(f"/api/portfolios/{empty_portfolio.pk}/import/", {"file": content})

    assert response.status_code == 400
    assert str(settings.PORTFOLIO_IMPORT_MAX_BYTES) in response.json()["detail"]
    assert_nothing_imported(media_root)


def test_missing_file_field_is_rejected(client, empty_portfolio):
    response = client.post(f"/api/portfolios/{empty_portfolio.pk}/import/", {"other": "x"})

    assert response.status_code == 400
    assert response.json()["detail"] == "Send the CSV file as the multipart form field 'file'."


def test_import_into_unknown_portfolio_is_404(client, media_root):
    response = client.post("/api/portfolios/999999/import/", {"file": SimpleUploadedFile("h.csv", GOOD_CSV)})

    assert response.status_code == 404
    assert_nothing_imported(media_root)
