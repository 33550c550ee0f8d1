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


@pytest.fixture
def upload(client, django_capture_on_commit_callbacks):
    """POST a file to the import API; the queued task runs inline when the request commits."""

    def post(portfolio, content, name="holdings.csv"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/api/portfolios/{portfolio.pk}/import/", {"file": SimpleUploadedFile(name, content)}
            )

    return post


def stored_files(media_root):
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def assert_nothing_imported(media_root):
    assert Holding.objects.count() == 0
    assert HoldingImport.objects.count() == 0
    assert stored_files(media_root) == []


def import_record(client, response):
    """The import the API answered 202 for, as GET on the answer's url shows it."""
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["url"] == f"/api/imports/{body['id']}/"
    record = client.get(body["url"])
    assert record.status_code == 200
    return record.json()


def test_good_file_is_queued_then_imports_every_row_and_is_kept(client, upload, empty_portfolio, media_root):
    response = upload(empty_portfolio, GOOD_CSV)

    record = import_record(client, response)
    assert {k: record[k] for k in ("portfolio", "status", "rows", "error", "attempts")} == {
        "portfolio": empty_portfolio.pk,
        "status": "done",
        "rows": 3,
        "error": "",
        "attempts": 1,
    }
    assert record["finished"] >= record["created"]
    assert record["file"].startswith("imports/holdings")
    assert (media_root / record["file"]).read_bytes() == GOOD_CSV
    assert [(h.symbol, h.quantity, h.cost_basis) for h in empty_portfolio.holdings.all()] == [
        ("AAPL", Decimal(10), Decimal("1500.00")),
        ("MSFT", Decimal("2.5"), Decimal("800.00")),
        ("VWCE", Decimal(4), Decimal("420.10")),
    ]


def test_the_answer_is_queued_while_the_task_waits_for_the_commit(
    client, empty_portfolio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            f"/api/portfolios/{empty_portfolio.pk}/import/", {"file": SimpleUploadedFile("h.csv", GOOD_CSV)}
        )

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert len(callbacks) == 1
    assert Holding.objects.count() == 0
    callbacks[0]()
    assert HoldingImport.objects.get().status == "done"
    assert Holding.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_answer_already_says_done(client, empty_portfolio):
    response = client.post(
        f"/api/portfolios/{empty_portfolio.pk}/import/", {"file": SimpleUploadedFile("h.csv", GOOD_CSV)}
    )

    assert response.status_code == 202
    assert response.json()["status"] == "done"


def test_excel_style_file_with_bom_and_crlf_imports(client, upload, empty_portfolio):
    content = "\ufeffSymbol,Quantity,Cost_Basis\r\nAAPL,1,150\r\n\r\nMSFT,1,300\r\n".encode()

    record = import_record(client, upload(empty_portfolio, content))

    assert (record["status"], record["rows"]) == ("done", 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"\n  \n", "The file is empty"),
        (b"symbol,quantity\nAAPL,1\n", "line 1: the header must be symbol,quantity,cost_basis"),
        (b"AAPL,10,1500\n", "line 1: the header must be symbol,quantity,cost_basis"),
        (b"symbol,quantity,cost_basis\n", "no holdings"),
        (b"symbol,quantity,cost_basis\nAAPL,1\n", "line 2: expected 3 fields"),
        (b"symbol,quantity,cost_basis\nAAPL,1,2,3\n", "line 2: expected 3 fields"),
        (b"symbol,quantity,cost_basis\nAAPL,1,2\nMSFT,1,caf\xe9\n", "line 3: the file is not UTF-8"),
        (b'symbol,quantity,cost_basis\nAAPL,1,2\n"MSFT,1,2\n', "line 3: unexpected end of data"),
        (b'symbol,quantity,cost_basis\n"AAPL"x,1,2\n', "line 2: ',' expected after"),
    ],
)
def test_badly_shaped_file_is_rejected_at_once(upload, empty_portfolio, media_root, content, message):
    response = upload(empty_portfolio, content)

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert_nothing_imported(media_root)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"symbol,quantity,cost_basis\nAAPL,ten,1500\n", "line 2: quantity:"),
        (b"symbol,quantity,cost_basis\nAAPL,10,1500\nMSFT,-1,300\n", "line 3: quantity:"),
        (b"symbol,quantity,cost_basis\nAAPL,10,1500\nMSFT,0,300\n", "line 3: quantity:"),
        (b"symbol,quantity,cost_basis\nAAPL,10,-5\n", "line 2: cost_basis:"),
        (b"symbol,quantity,cost_basis\nAAPL,NaN,5\n", "line 2: quantity:"),
        (b"symbol,quantity,cost_basis\nAA PL,1,5\n", "line 2: symbol:"),
        (b"symbol,quantity,cost_basis\nAAPL,1,2\n\nMSFT,1,2\naapl,1,2\n", "line 5: This portfolio"),
    ],
)
def test_bad_row_fails_the_import_whole(client, upload, empty_portfolio, media_root, content, message):
    record = import_record(client, upload(empty_portfolio, content))

    assert record["status"] == "failed"
    assert record["error"].startswith(message)
    assert (record["rows"], record["file"], record["attempts"]) == (0, None, 1)
    assert record["finished"] is not None
    assert Holding.objects.count() == 0
    assert stored_files(media_root) == []


def test_failed_import_says_what_the_api_used_to_answer(client, upload, empty_portfolio):
    content = b"symbol,quantity,cost_basis\nAAPL,10,1500\nMSFT,-1,300\n"

    record = import_record(client, upload(empty_portfolio, content))

    assert record["error"] == "line 3: quantity: Must be greater than zero."


def test_too_many_rows_are_rejected(upload, empty_portfolio, media_root, settings):
    settings.PORTFOLIO_IMPORT_MAX_ROWS = 2

    response = upload(empty_portfolio, GOOD_CSV)

    assert response.status_code == 400
    assert response.json()["detail"] == "line 4: too many rows; one import takes at most 2."
    assert_nothing_imported(media_root)


def test_symbol_already_held_fails_the_import(client, upload, portfolio, media_root):
    before = list(portfolio.holdings.values_list("symbol", "quantity"))

    record = import_record(client, upload(portfolio, GOOD_CSV))

    assert (record["status"], record["error"]) == (
        "failed",
        "line 2: This portfolio already holds this symbol.",
    )
    assert list(portfolio.holdings.values_list("symbol", "quantity")) == before
    assert stored_files(media_root) == []


def test_oversized_file_is_rejected_naming_the_limit(upload, empty_portfolio, media_root, settings):
    limit = settings.PORTFOLIO_IMPORT_MAX_BYTES
    row = b"AAPL,1,1\n"
    content = b"symbol,quantity,cost_basis\n" + row * (3 * limit // len(row))
    # Larger than Django's own request limits too: they must not answer first (413 or 500).
    assert len(content) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert len(content) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE

    response = upload(empty_portfolio, content)

    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"The file is {len(content)} bytes; the import limit is {limit} bytes."
    )
    assert_nothing_imported(media_root)


def test_limit_is_inclusive(upload, empty_portfolio, settings):
    settings.PORTFOLIO_IMPORT_MAX_BYTES = len(GOOD_CSV)

    assert upload(empty_portfolio, GOOD_CSV).status_code == 202
    settings.PORTFOLIO_IMPORT_MAX_BYTES = len(GOOD_CSV) - 1
    assert upload(empty_portfolio, GOOD_CSV).status_code == 400


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


def test_imports_are_listed_newest_first_per_portfolio(client, upload, portfolio, empty_portfolio):
    upload(empty_portfolio, GOOD_CSV)
    upload(empty_portfolio, b"symbol,quantity,cost_basis\nAAPL,0,1\n")
    upload(portfolio, b"symbol,quantity,cost_basis\nIBM,1,100\n")

    listed = client.get(f"/api/imports/?portfolio={empty_portfolio.pk}").json()

    assert [(i["status"], i["rows"]) for i in listed] == [("failed", 0), ("done", 3)]
    assert len(client.get("/api/imports/").json()) == 3
    assert client.get("/api/imports/?portfolio=x").status_code == 400
    assert client.get("/api/imports/999999/").status_code == 404


def test_imports_are_read_only(client, upload, empty_portfolio):
    record = import_record(client, upload(empty_portfolio, GOOD_CSV))

    assert client.delete(f"/api/imports/{record['id']}/").status_code == 405
    assert client.post("/api/imports/", {}).status_code == 405


def test_pace_waits_after_each_row(upload, empty_portfolio, settings, monkeypatch):
    settings.PORTFOLIO_IMPORT_PACE = 0.25
    waits = []
    monkeypatch.setattr("portfolios.csv_import.time.sleep", waits.append)

    upload(empty_portfolio, GOOD_CSV)

    assert waits == [0.25, 0.25, 0.25]


def test_an_import_that_keeps_killing_its_worker_is_given_up(empty_portfolio):
    """Each delivery counts an attempt before it imports: after the third, the next gives up."""
    from django.core.files.base import ContentFile

    from portfolios.tasks import MAX_ATTEMPTS, import_holdings

    record = HoldingImport(
        portfolio=empty_portfolio, attempts=MAX_ATTEMPTS, status=HoldingImport.Status.RUNNING
    )
    record.file.save("holdings.csv", ContentFile(GOOD_CSV), save=False)
    record.save()

    assert import_holdings(record.pk) == "failed"

    record.refresh_from_db()
    assert (record.status, record.attempts, record.rows) == ("failed", MAX_ATTEMPTS + 1, 0)
    assert "given up" in record.error
    assert Holding.objects.count() == 0
