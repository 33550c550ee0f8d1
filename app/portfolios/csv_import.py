"""Holdings from a CSV file (header symbol,quantity,cost_basis): every row, or none."""

import csv
import io
import time

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction

from portfolios.models import Holding, HoldingImport, Portfolio

HEADER = ["symbol", "quantity", "cost_basis"]


class ImportRejected(Exception):
    """The file cannot be imported; the message tells its sender what is wrong, and where."""


def check_upload(upload: File) -> bytes:
    """The upload's bytes, once its size and shape (parse) are right; raises ImportRejected.

    The cheap checks, made while the sender waits; the rows' values are checked by save_rows.
    """
    limit = settings.PORTFOLIO_IMPORT_MAX_BYTES
    if upload.size > limit:
        raise ImportRejected(f"The file is {upload.size} bytes; the import limit is {limit} bytes.")
    data = upload.read()
    parse(data)
    return data


def queue_import(portfolio: Portfolio, name: str, data: bytes) -> HoldingImport:
    """Store the file under MEDIA_ROOT/imports/ and record its import, status queued."""
    record = HoldingImport(portfolio=portfolio)
    record.file.save(name, ContentFile(data), save=False)
    try:
        record.save()
    except Exception:
        record.file.delete(save=False)
        raise
    return record


def save_rows(portfolio: Portfolio, rows: list[tuple[int, dict[str, str]]], pace: float = 0) -> int:
    """Validate and save each row as a holding, waiting `pace` seconds after each; every row or none.

    Raises ImportRejected naming the first bad row's line; the caller's transaction rolls back.
    """
    with transaction.atomic():
        for line, fields in rows:
            holding = Holding(portfolio=portfolio, **fields)
            try:
                # Also catches a symbol repeated in the file: earlier rows are saved already.
                holding.full_clean()
            except ValidationError as exc:
                raise ImportRejected(f"line {line}: {describe(exc)}") from None
            holding.save()
            if pace:
                time.sleep(pace)
    return len(rows)


def parse(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The rows as (line number, {column: text}); checks the shape, not the values."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportRejected(f"line {line}: the file is not UTF-8 text.") from None
    if not text.strip():
        raise ImportRejected(f"The file is empty; its first line must be {','.join(HEADER)}.")

    max_rows = settings.PORTFOLIO_IMPORT_MAX_ROWS
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        header = [column.strip().lower() for column in next(reader)]
        if header != HEADER:
            raise ImportRejected(
                f"line {reader.line_num}: the header must be {','.join(HEADER)}, not {','.join(header)}."
            )
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            if len(rows) == max_rows:
                raise ImportRejected(
                    f"line {reader.line_num}: too many rows; one import takes at most {max_rows}."
                )
            if len(fields) != len(HEADER):
                raise ImportRejected(
                    f"line {reader.line_num}: expected {len(HEADER)} fields "
                    f"({','.join(HEADER)}), found {len(fields)}."
                )
            rows.append((reader.line_num, {k: v.strip() for k, v in zip(HEADER, fields, strict=True)}))
    except csv.Error as exc:
        raise ImportRejected(f"line {reader.line_num}: {exc}.") from None
    if not rows:
        raise ImportRejected("The file has a header but no holdings.")
    return rows


def describe(error: ValidationError) -> str:
    return " ".join(
        " ".join(messages) if field == NON_FIELD_ERRORS else f"{field}: {' '.join(messages)}"
        for field, messages in error.message_dict.items()
    )
