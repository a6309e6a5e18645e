"""Schemathesis against the app's own OpenAPI schema, signed in as an admin: no server errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as fuzz_settings
from schemathesis.checks import not_a_server_error

from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.web import create_app
from pipeline.web.auth import SESSION_COOKIE


@pytest.fixture
def fuzz_store(settings: Settings, store: Store, make_alert: Callable[..., int]) -> Store:
    """A few alerts in different states, so ids 1-3 exist and most actions have something to act on."""
    alerts = [make_alert() for _ in range(3)]
    store.approve(alerts[0], "ana@example.org")
    store.approve(alerts[1], "ana@example.org")
    return store


@pytest.fixture
def fuzz_auth(fuzz_store: Store) -> dict[str, str]:
    admin = fuzz_store.create_user("admin@example.org", "admin", None)
    token, csrf = fuzz_store.create_session(admin, timedelta(hours=1))
    return {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": csrf}


@pytest.fixture
def api(settings: Settings, fuzz_store: Store, fuzz_auth: dict[str, str]) -> Any:
    app = create_app(settings.model_copy(update={"cookie_secure": False}), fuzz_store)
    return schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=fuzz_auth)


FUZZ = fuzz_settings(
    max_examples=20,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)


def test_no_operation_gives_a_server_error(api: Any, fuzz_auth: dict[str, str]) -> None:
    """Every operation in the schema, with generated inputs (valid and not), signed in as admin.
    (schemathesis's pytest plugin does not yet work with pytest 9, so the operations are
    walked here with its Python API.)"""
    tested, failures = [], []
    for found in api.get_all_operations():
        operation = found.ok()
        tested.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @FUZZ
        def run(case: Any) -> None:
            case.call_and_validate(headers=fuzz_auth, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect them all, then fail with the list
            failures.append(f"{tested[-1]}: {str(exc)[:300]}")
    assert len(tested) >= 10, tested
    assert failures == []
