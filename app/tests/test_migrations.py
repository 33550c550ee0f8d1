import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from portfolios.models import HoldingImport


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_imports_made_before_the_task_queue_become_done():
    executor = MigrationExecutor(connection)
    executor.migrate([("portfolios", "0001_initial")])
    old_apps = executor.loader.project_state([("portfolios", "0001_initial")]).apps
    portfolio = old_apps.get_model("portfolios", "Portfolio").objects.create(name="Before")
    old_apps.get_model("portfolios", "HoldingImport").objects.create(
        portfolio=portfolio, file="imports/old.csv", rows=4
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    record = HoldingImport.objects.get()
    assert (record.status, record.rows, record.attempts, record.error) == ("done", 4, 0, "")
    assert record.finished == record.created
