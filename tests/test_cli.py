"""The command line: the contract in DESIGN.md, and one-line errors with exit code 2."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo.server import SITE
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.migrate import head_revision

ROOT = Path(__file__).resolve().parents[1]
PAGE = SITE / "maple-ledger/2026/11/khan-younis-family-killed-airstrike.html"
FR_PAGE = SITE / "courrier-du-fleuve/2026/11/montreal-manifestation-pro-hamas-centre-ville.html"


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI on the test's database (a file under tmp_path/var, or PostgreSQL: see conftest)."""
    monkeypatch.setenv("MEDIAWATCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MEDIAWATCH_DATABASE_URL", settings.db_url)
    return CliRunner()


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _error_line(result: object) -> str:
    out = result.output.strip()  # type: ignore[attr-defined]
    assert result.exit_code == 2, out  # type: ignore[attr-defined]
    assert len(out.splitlines()) == 1, out
    return out


def test_extract_follows_the_contract(cli: CliRunner, tmp_path: Path) -> None:
    gz = tmp_path / "page.html.gz"
    gz.write_bytes(gzip.compress(FR_PAGE.read_bytes()))
    result = cli.invoke(main, ["extract", str(PAGE), str(gz), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["source"] for r in rows] == [str(PAGE), str(gz)]
    for r in rows:
        assert set(r) == {"source", "title", "text", "published", "language", "authors"}
    assert rows[0]["language"] == "en" and rows[1]["language"] == "fr"
    assert "Khan Younis" in rows[0]["text"]
    assert rows[0]["published"].startswith("2026-11")


def test_extract_missing_file_is_a_one_line_error(cli: CliRunner, tmp_path: Path) -> None:
    line = _error_line(cli.invoke(main, ["extract", str(tmp_path / "nope.html")]))
    assert "nope.html" in line


def test_score_follows_the_contract(cli: CliRunner, tmp_path: Path) -> None:
    inp = _jsonl(
        tmp_path / "in.jsonl",
        [
            {
                "id": "a1",
                "title": "Gaza toll rises",
                "text": "At least 30 Palestinians died in Gaza on "
                "Tuesday, according to the Hamas-run health ministry. The figures could not be "
                "independently verified.",
                "outlet": "globe-and-mail",
            },
            {
                "id": 2,
                "title": "Leafs win in overtime",
                "text": "The Maple Leafs beat the Bruins 3-2 "
                "in overtime on Saturday night at Scotiabank Arena.",
            },
        ],
    )
    out = tmp_path / "out.jsonl"
    result = cli.invoke(main, ["score", "--input", str(inp), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a1", "2"]
    for r in rows:
        assert set(r) >= {
            "id",
            "relevant",
            "relevance",
            "categories",
            "alert",
            "kind",
            "severity",
            "evidence",
        }
        assert r["kind"] in ("complaint", "praise", None)
        assert all(0.0 <= p <= 1.0 for p in r["categories"].values())
    first = rows[0]
    assert first["relevant"] and first["alert"] and first["kind"] == "complaint"
    assert first["categories"]["casualty_doubt"] >= 0.5
    for ev in first["evidence"]:
        assert set(ev) >= {"category", "quote", "start", "end", "source"}
        assert ev["source"] == "model" or ev["source"].startswith("rule:")
    assert not rows[1]["relevant"] and rows[1]["alert"] is False


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": 1, "title": "x"}', "in.jsonl:2: field 'text'"),
        ("not json", "in.jsonl:2: not valid JSON"),
        ("[1, 2]", "in.jsonl:2: expected a JSON object"),
        ('{"id": 1, "title": "x", "text": 5}', "in.jsonl:2: field 'text'"),
    ],
)
def test_score_bad_line_names_file_line_and_field(
    cli: CliRunner, tmp_path: Path, line: str, expected: str
) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": 0, "title": "ok", "text": "fine"}\n' + line + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    msg = _error_line(cli.invoke(main, ["score", "--input", str(inp), "--output", str(out)]))
    assert expected in msg
    assert out.read_text() == "previous results\n", "a failed run must not clobber the output"


def test_sentences_follows_the_contract(cli: CliRunner, tmp_path: Path) -> None:
    inp = _jsonl(
        tmp_path / "s.jsonl",
        [
            {"id": 1, "text": "Five Palestinians were killed in Gaza on Monday."},
            {"id": "b", "text": "An Israeli airstrike killed five Palestinians in Rafah."},
            {"id": 3, "text": "The council approved the budget."},
        ],
    )
    result = cli.invoke(main, ["sentences", "--input", str(inp)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows == [
        {"id": "1", "victim": "palestinian", "responsible": "neither"},
        {"id": "b", "victim": "palestinian", "responsible": "israel"},
        {"id": "3", "victim": "neither", "responsible": "neither"},
    ]


def test_malformed_feeds_file_is_a_one_line_error(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("outlets:\n  - id: x-news\n    name: X\n    language: de\n")
    line = _error_line(cli.invoke(main, ["run", "--once", "--feeds", str(bad)]))
    assert f"{bad}:4" in line and "outlet 'x-news'" in line and "language" in line


def test_unknown_outlet_filter_is_a_one_line_error(cli: CliRunner) -> None:
    line = _error_line(cli.invoke(main, ["alerts", "list", "--outlet", "no-such-outlet"]))
    assert "no-such-outlet" in line


def test_unreadable_input_is_a_one_line_error(cli: CliRunner, tmp_path: Path) -> None:
    locked = tmp_path / "locked.jsonl"
    locked.write_text("{}\n")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # running as root: use a directory instead
        locked = tmp_path
    line = _error_line(cli.invoke(main, ["sentences", "--input", str(locked)]))
    assert str(locked) in line


def test_alert_show_unknown_id_is_a_one_line_error(cli: CliRunner) -> None:
    assert "999" in _error_line(cli.invoke(main, ["alerts", "show", "999"]))


def test_config_show_masks_secrets(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_SECRET_KEY", "hunter2-very-secret")
    monkeypatch.setenv("MEDIAWATCH_DATABASE_URL", "postgresql+psycopg://mw:pw-secret@db/mw")
    result = cli.invoke(main, ["config", "show"])
    assert result.exit_code == 0
    assert "hunter2" not in result.output and "pw-secret" not in result.output
    assert "secret_key = ********" in result.output


def test_bad_setting_is_a_one_line_error(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_WORKERS", "many")
    assert "MEDIAWATCH_WORKERS" in _error_line(cli.invoke(main, ["config", "show"]))


@pytest.mark.empty_database
def test_db_upgrade_creates_the_schema(cli: CliRunner, settings: Settings) -> None:
    result = cli.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0 and f"revision {head_revision()}" in result.output
    if not settings.database_url:
        assert (settings.data_dir / "mediawatch.db").is_file()
    store = Store.open(settings.db_url, upgrade=False)
    assert store.schema_revision() == head_revision()
    store.close()


def test_demo_then_alerts_and_export(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(main, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "19 articles" in result.output and "Alerts by category" in result.output
    assert "analyst@demo.invalid" in result.output and "responder@demo.invalid" in result.output
    env = {"MEDIAWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'demo.db'}"}
    listed = cli.invoke(main, ["alerts", "list", "--format", "json"], env=env)
    alerts = json.loads(listed.output)
    assert alerts and alerts == sorted(alerts, key=lambda a: -a["priority"])
    shown = json.loads(
        cli.invoke(main, ["alerts", "show", str(alerts[0]["id"]), "--format", "json"], env=env).output
    )
    assert shown["evidence"] and shown["letters"][0]["body"]
    out = tmp_path / "articles.csv"
    exported = cli.invoke(main, ["export", "--format", "csv", "--output", str(out)], env=env)
    assert exported.exit_code == 0 and "19 articles" in exported.output
    assert len(out.read_text().splitlines()) >= 20


def test_every_command_has_help_with_an_example() -> None:
    def walk(cmd: object, path: list[str]) -> list[list[str]]:
        subs = getattr(cmd, "commands", {})
        return [path] + [p for name, c in subs.items() for p in walk(c, [*path, name])]

    for path in walk(main, []):
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"`mediawatch {' '.join(path)} --help` has no example"


def test_readme_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, cmd in main.commands.items():
        subs = getattr(cmd, "commands", None)
        for full in [f"{name} {s}" for s in subs] if subs else [name]:
            assert f"`mediawatch {full}" in readme, f"README's command list lacks {full}"


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "mediawatch"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert "mediawatch" in out.stdout


def test_sources_health_lists_listed_sources_and_strict_fails_on_warnings(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "outlets:\n"
        "  - id: closed-paper\n    name: Closed Paper\n    language: en\n"
        "    sources:\n      - url: http://127.0.0.1:9/feed.xml\n"  # nothing listens on port 9
    )
    monkeypatch.setenv("MEDIAWATCH_FEEDS_FILE", str(feeds))
    monkeypatch.setenv("MEDIAWATCH_ALLOW_PRIVATE_NETWORKS", "true")
    before = cli.invoke(main, ["sources", "health", "--strict"])
    assert before.exit_code == 0, before.output  # listed, not polled yet: no warning
    assert "ok     closed-paper" in before.output
    run = cli.invoke(main, ["run", "--once"])
    assert run.exit_code == 0 and "poll_errors=1" in run.output, run.output
    after = cli.invoke(main, ["sources", "health", "--strict"])
    assert after.exit_code == 1
    assert "WARN   closed-paper" in after.output
    assert (
        "closed-paper http://127.0.0.1:9/feed.xml: never succeeded (1 errors): ConnectionError"
        in after.output
    )
    rows = json.loads(cli.invoke(main, ["sources", "health", "--format", "json"]).output)
    assert rows[0]["warning"].startswith("never succeeded") and rows[0]["enabled"] is True


def test_score_with_a_damaged_model_or_rules_file_exits_2_naming_it(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    root = Path(__file__).resolve().parents[1]
    inp = _jsonl(tmp_path / "in.jsonl", [{"id": 1, "title": "T", "text": "Some text about Gaza."}])
    models = tmp_path / "models"
    shutil.copytree(root / "models", models)
    blob = models / "classifier.npz"
    blob.write_bytes(blob.read_bytes()[:-4] + b"XXXX")
    monkeypatch.setenv("MEDIAWATCH_MODELS_DIR", str(models))
    result = cli.invoke(main, ["score", "--input", str(inp)])
    assert result.exit_code == 2
    assert "classifier.npz: checksum differs" in _error_line(result)

    monkeypatch.setenv("MEDIAWATCH_MODELS_DIR", str(root / "models"))
    alerts = tmp_path / "alerts"
    shutil.copytree(root / "alerts", alerts)
    rules = alerts / "rules.yaml"
    rules.write_text(rules.read_text().replace("weight: 0.5", "weight: heavy", 1))
    monkeypatch.setenv("MEDIAWATCH_ALERTS_DIR", str(alerts))
    result = cli.invoke(main, ["score", "--input", str(inp)])
    assert result.exit_code == 2
    message = _error_line(result)
    assert "rules.yaml:" in message and "rule '" in message and "weight" in message


def test_score_reads_many_lines_in_batches_and_standard_input(cli: CliRunner, tmp_path: Path) -> None:
    """More lines than one batch, from a file and from standard input, give the same output in
    input order; a bad last line on standard input writes nothing."""
    rows = [
        {"id": i, "title": f"Story {i}", "text": "Council news about the library budget."} for i in range(150)
    ]
    inp = _jsonl(tmp_path / "in.jsonl", rows)
    from_file = cli.invoke(main, ["score", "--input", str(inp)])
    assert from_file.exit_code == 0, from_file.output
    from_stdin = cli.invoke(main, ["score", "--input", "-"], input=inp.read_text())
    assert from_stdin.exit_code == 0, from_stdin.output
    ids = [json.loads(line)["id"] for line in from_file.stdout.splitlines()]
    assert ids == [str(i) for i in range(150)]
    assert from_stdin.stdout == from_file.stdout
    bad = cli.invoke(main, ["score", "--input", "-"], input=inp.read_text() + '{"id": 1}\n')
    assert bad.exit_code == 2 and bad.stdout == ""
    assert "<stdin>:151: field 'title'" in bad.output


def test_users_add_invite_list_and_set(cli: CliRunner, tmp_path: Path) -> None:
    added = cli.invoke(
        main,
        ["users", "add", "Boss@Example.org", "--role", "admin", "--password-stdin"],
        input="a long enough password\n",
    )
    assert added.exit_code == 0 and "boss@example.org (admin)" in added.output
    short = cli.invoke(main, ["users", "add", "x@example.org", "--password-stdin"], input="short\n")
    assert "password" in _error_line(short) and "10 characters" in short.output
    again = cli.invoke(
        main, ["users", "add", "boss@example.org", "--password-stdin"], input="a long enough password\n"
    )
    assert "already exists" in _error_line(again)
    link = cli.invoke(main, ["users", "invite", "vol@example.org"])
    assert link.exit_code == 0 and "/invite/" in link.output
    assert "already exists" in _error_line(cli.invoke(main, ["users", "invite", "boss@example.org"]))
    last = cli.invoke(main, ["users", "set", "boss@example.org", "--inactive"])
    assert "last active admin" in _error_line(last)
    cli.invoke(
        main,
        ["users", "add", "deputy@example.org", "--role", "admin", "--password-stdin"],
        input="another long password\n",
    )
    changed = cli.invoke(main, ["users", "set", "boss@example.org", "--inactive"])
    assert changed.exit_code == 0 and "active=False" in changed.output
    assert "no user" in _error_line(cli.invoke(main, ["users", "set", "nobody@example.org", "--active"]))
    listed = [
        json.loads(x) for x in cli.invoke(main, ["users", "list", "--format", "json"]).output.splitlines()
    ]
    assert sorted((u["email"], u["role"], u["active"]) for u in listed) == [
        ("boss@example.org", "admin", False),
        ("deputy@example.org", "admin", True),
    ]


def test_score_loads_neither_the_store_nor_scikit_learn(tmp_path: Path) -> None:
    """`mediawatch score` is a filter run on many files: it imports only what scoring needs (the
    store, SQLAlchemy and scipy added 2.5 s to every start when one command module imported them)."""
    inp = _jsonl(tmp_path / "in.jsonl", [{"id": "1", "title": "Gaza", "text": "Three people were killed."}])
    code = (
        "import sys\nfrom pipeline.cli import main\n"
        f"main(['score', '--input', {str(inp)!r}, '--output', {str(tmp_path / 'out.jsonl')!r}], "
        "standalone_mode=False)\n"
        "print(sorted(m for m in ('sqlalchemy', 'scipy', 'sklearn', 'pipeline.store') if m in sys.modules))"
    )
    env = os.environ | {"MEDIAWATCH_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert json.loads((tmp_path / "out.jsonl").read_text())["id"] == "1"
