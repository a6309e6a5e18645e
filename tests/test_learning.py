"""Learning from people: verdicts stored as labels, `mediawatch train` including them behind a
validation gate, and the list of articles the model is least sure about (pipeline/train.py,
store/labels.py, `alerts verdict`, `uncertain`, the verdict API)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.classify import load_classifier, read_corpus
from pipeline.cli import main
from pipeline.demo import DEMO_FEEDS
from pipeline.demo.server import LocalSite
from pipeline.errors import InputError
from pipeline.orchestrate import build, run_cycle
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import Alert, AuditEntry
from pipeline.train import least_sure, train
from pipeline.web import create_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cycled(tmp_path_factory: pytest.TempPathFactory, databases: Any) -> Iterator[str]:
    """A demo cycle's database, made once for the module (tests copy it); its URL."""
    tmp = tmp_path_factory.mktemp("cycled")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=databases.new_url(),
        data_dir=tmp,
        feeds_file=ROOT / "feeds.yaml",
        alerts_dir=ROOT / "alerts",
        models_dir=ROOT / "models",
        allow_private_networks=True,
        per_host_delay=0.0,
    )
    from pipeline.demo.server import SITE

    with LocalSite(SITE) as site:
        store = Store.open(settings.db_url)
        run_cycle(build(settings, store, DEMO_FEEDS, base_url=site.base_url))
        store.close()
    yield settings.db_url


@pytest.fixture
def demo_store(cycled: str, settings: Settings, databases: Any) -> Iterator[Store]:
    databases.copy(cycled, settings.db_url)
    store = Store.open(settings.db_url)
    yield store
    store.close()


def alerts(store: Store) -> list[Alert]:
    with store.session() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A copy of the shipped models directory, so training can replace files safely."""
    target = tmp_path / "models"
    shutil.copytree(ROOT / "models", target)
    return target


# ------------------------------------------------------------------ verdicts as labels


def test_verdicts_become_labels_latest_wins(demo_store: Store) -> None:
    first, second, third = alerts(demo_store)[:3]
    demo_store.record_verdict(first.id, "valid", "Analyst A")
    demo_store.record_verdict(second.id, "wrong-category", "Analyst A", ["loaded_language"])
    demo_store.record_verdict(second.id, "wrong_category", "Analyst B", ["dehumanization", "loaded_language"])
    demo_store.record_verdict(third.id, "not_valid", "Analyst A", relevant=False, note="off-topic")
    labels = {row["id"]: row for row in demo_store.training_labels()}
    assert set(labels) == {f"verdict-{a.article_id}" for a in (first, second, third)}
    assert labels[f"verdict-{first.article_id}"]["categories"] == list(first.categories)
    assert labels[f"verdict-{second.article_id}"]["categories"] == ["dehumanization", "loaded_language"]
    off = labels[f"verdict-{third.article_id}"]
    assert off["relevant"] is False and off["categories"] == []
    assert len(demo_store.verdicts(second.id)) == 2
    with demo_store.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "verdict")).all()
    assert [a.actor for a in audit] == ["Analyst A", "Analyst A", "Analyst B", "Analyst A"]


@pytest.mark.parametrize(
    ("verdict", "categories", "by", "message"),
    [
        ("maybe", [], "A", "verdict: 'maybe' is not one of"),
        ("wrong_category", [], "A", "needs the categories that do apply"),
        ("wrong_category", ["bias"], "A", "category: unknown bias"),
        ("valid", ["loaded_language"], "A", "only a wrong_category verdict takes categories"),
        ("valid", [], "  ", "by: say who"),
    ],
)
def test_bad_verdicts_are_refused_with_the_field(
    demo_store: Store, verdict: str, categories: list[str], by: str, message: str
) -> None:
    alert = alerts(demo_store)[0]
    with pytest.raises(InputError, match=message):
        demo_store.record_verdict(alert.id, verdict, by, categories)
    assert demo_store.verdicts(alert.id) == []


def test_verdict_on_a_missing_alert(demo_store: Store) -> None:
    with pytest.raises(InputError, match="alert 999: no such alert"):
        demo_store.record_verdict(999, "valid", "A")


# ------------------------------------------------------------------ the validation gate


def test_retraining_on_the_same_data_is_kept(models: Path) -> None:
    before = load_classifier(models)
    report = train(models)
    assert report.replaced and "kept" in report.reason
    new, old = report.validation["new"], report.validation["current"]
    assert old is not None and new["categories_macro_f1"] >= old["categories_macro_f1"]
    assert load_classifier(models).version == before.version  # same corpus, same version
    metrics = json.loads((models / "metrics.json").read_text())
    assert metrics["validation"]["documents"] == report.documents["validation"] > 0


def poisoned(models: Path) -> list[dict[str, object]]:
    """Verdicts that teach the opposite of the truth: every relevant seed text, relabelled with
    the categories it does not have."""
    rows = []
    for d in read_corpus(models / "corpus" / "seed.jsonl"):
        if d.relevant:
            wrong = [
                c for c in ("loaded_language", "good_coverage", "factual_error") if c not in d.categories
            ]
            rows.append(
                {
                    "id": f"verdict-{d.id}",
                    "language": d.language,
                    "title": d.title,
                    "text": d.text + " (judged)",
                    "relevant": True,
                    "categories": wrong,
                }
            )
    return rows * 3


def test_a_worse_model_is_refused_and_nothing_changes(models: Path) -> None:
    files = {p.name: p.read_bytes() for p in models.iterdir() if p.is_file()}
    report = train(models, poisoned(models))
    assert not report.replaced
    assert report.reason.startswith("new model refused: validation macro-F1")
    assert report.documents["verdicts"] > 0
    assert {p.name: p.read_bytes() for p in models.iterdir() if p.is_file()} == files

    forced = train(models, poisoned(models), force=True)
    assert forced.replaced and "--force" in forced.reason
    assert load_classifier(models).version == forced.model.version
    assert any("verdicts" in s for s in load_classifier(models).meta["sources"])


def test_a_missing_model_is_replaced_by_any_new_one(models: Path) -> None:
    (models / "classifier.npz").unlink()
    report = train(models)
    assert report.replaced and report.reason.startswith("no usable current model")
    assert load_classifier(models).version == report.model.version


def test_validation_documents_may_not_leak_into_training(models: Path) -> None:
    leaked = read_corpus(models / "corpus" / "validation.jsonl")[0]
    row = {
        "id": "verdict-1",
        "language": leaked.language,
        "title": leaked.title,
        "text": leaked.text,
        "relevant": True,
        "categories": [],
    }
    with pytest.raises(InputError, match="validation text"):
        train(models, [row])


# ------------------------------------------------------------------ least sure


def test_least_sure_ranks_by_margin() -> None:
    model = load_classifier(ROOT / "models")
    items = [
        (1, "Council approves new bike lanes", "The city council approved new bike lanes on Tuesday."),
        (2, "Israeli strike kills 12 in Gaza", "An Israeli air strike killed 12 Palestinians in Gaza."),
        (3, "Vigil in Toronto", "Hundreds gathered in Toronto for a vigil about the war in Gaza."),
    ]
    rows = least_sure(model, items, limit=3)
    assert [r["margin"] for r in rows] == sorted(r["margin"] for r in rows)
    assert {r["article_id"] for r in rows} == {1, 2, 3}
    assert all(0 <= r["probability"] <= 1 for r in rows)
    assert least_sure(model, items, limit=1) == rows[:1]


# ------------------------------------------------------------------ CLI and API


def test_cli_verdict_train_and_uncertain(
    demo_store: Store, settings: Settings, models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIAWATCH_DATABASE_URL", settings.db_url)
    monkeypatch.setenv("MEDIAWATCH_MODELS_DIR", str(models))
    runner = CliRunner()
    first = alerts(demo_store)[0]
    ok = runner.invoke(main, ["alerts", "verdict", str(first.id), "valid", "--by", "Analyst A"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(main, ["alerts", "verdict", str(first.id), "wrong-category", "--by", "A"])
    assert bad.exit_code == 2 and "needs the categories" in bad.output

    before = runner.invoke(main, ["uncertain", "--since", "3650d", "--format", "json", "--limit", "100"])
    assert before.exit_code == 0, before.output
    listed = {r["article_id"] for r in json.loads(before.stdout)}
    assert first.article_id not in listed and listed  # judged articles are not asked again

    trained = runner.invoke(main, ["train", "--only", "classifier"])
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)["classifier"]
    assert report["documents"]["verdicts"] == 1
    assert "validation macro-F1" in report["reason"]
    assert runner.invoke(main, ["uncertain", "--since", "yesterday"]).exit_code == 2
    missing = runner.invoke(main, ["train", "--only", "casualty", "--data-dir", str(models / "nowhere")])
    assert (
        missing.exit_code == 2 and "nowhere: the casualty model's data sets are not there" in missing.output
    )


def test_api_verdicts(demo_store: Store, settings: Settings, sign_in: Any) -> None:
    client = TestClient(create_app(settings, demo_store), base_url="https://testserver")
    sign_in(client, "analyst")
    alert = alerts(demo_store)[0]
    made = client.post(
        f"/api/alerts/{alert.id}/verdict",
        json={"verdict": "wrong_category", "categories": ["loaded_language"], "by": "Analyst A"},
    )
    assert made.status_code == 201, made.text
    assert client.get(f"/api/alerts/{alert.id}/verdicts").json()[0]["categories"] == ["loaded_language"]
    refused = client.post(f"/api/alerts/{alert.id}/verdict", json={"verdict": "wrong_category", "by": "A"})
    assert refused.status_code == 422 and "needs the categories" in refused.json()["detail"]
    assert client.post("/api/alerts/999/verdict", json={"verdict": "valid", "by": "A"}).status_code == 404
