"""`mediawatch demo`: the bundled fictional news site, a full cycle, then the web app."""

from __future__ import annotations

from pathlib import Path

import click

from ..orchestrate import build, run_cycle
from ..progress import step_progress
from ..settings import Settings
from ..store import Store
from .server import SITE, LocalSite

DEMO_FEEDS = Path(__file__).parent / "feeds.yaml"
DEMO_DB = "demo.db"


def demo_settings(settings: Settings) -> Settings:
    """The demo's own database and polite-but-local fetching (its site is on 127.0.0.1)."""
    db = settings.data_dir / DEMO_DB
    return settings.model_copy(
        update={
            "database_url": f"sqlite:///{db}",
            "allow_private_networks": True,
            "per_host_delay": 0.0,
            # served on plain http://127.0.0.1 only: Secure cookies would be refused by some browsers
            "cookie_secure": False,
        }
    )


DEMO_PEOPLE = (
    ("analyst@demo.invalid", "admin", "Demo Analyst", "en"),
    ("responder@demo.invalid", "responder", "Demo Responder", "en"),
    ("repondant@demo.invalid", "responder", "Répondant démo", "fr"),
)


def demo_accounts(store: Store, opened: int = 4) -> list[tuple[str, str, str]]:
    """Demo sign-ins with fresh random passwords, and the top alerts opened to responders."""
    import secrets

    from ..web.auth import hash_password

    people = []
    for email, role, name, language in DEMO_PEOPLE:
        password = secrets.token_urlsafe(9)
        store.create_user(email, role, hash_password(password), name=name, language=language, by="demo")
        people.append((email, role, password))
    for a in store.list_alerts(status="new", limit=opened):
        store.approve(a.id, DEMO_PEOPLE[0][0], explanation="Opened by the demo so responders have work.")
    return people


def fresh_database(settings: Settings) -> None:
    db = settings.data_dir / DEMO_DB
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def run_demo_cycle(settings: Settings, site: LocalSite) -> tuple[Store, dict[str, int]]:
    store = Store.open(settings.db_url)
    pipeline = build(settings, store, DEMO_FEEDS, base_url=site.base_url)
    with step_progress() as progress:
        stats = run_cycle(pipeline, progress)
    pipeline.fetcher.close()
    return store, stats


def print_summary(store: Store, stats: dict[str, int]) -> None:
    counts = store.counts()
    click.echo(
        f"Demo cycle: {stats.get('polls', 0)} feeds polled, {counts['articles']} articles "
        f"stored, {stats.get('relevant', 0)} relevant, {counts['alerts']} alerts."
    )
    click.echo("Alerts by category:")
    for category, n in store.alert_category_counts().items():
        click.echo(f"  {category:<22} {n}")
    click.echo("Top alerts:")
    for a in store.list_alerts(limit=8):
        click.echo(f"  #{a.id:<3} {a.kind:<9} {a.outlet_name:<24} {a.title[:58]}")


def run_demo(settings: Settings, serve: bool = True, port: int = 8000) -> None:
    settings = demo_settings(settings)
    fresh_database(settings)
    with LocalSite(SITE) as site:
        click.echo(f"Demo news site on {site.base_url}")
        store, stats = run_demo_cycle(settings, site)
        print_summary(store, stats)
        people = demo_accounts(store)
        click.echo("Sign in with (passwords are new each run):")
        for email, role, password in people:
            click.echo(f"  {email:<26} {password:<14} {role}")
        if serve:
            import uvicorn

            from ..web import create_app

            click.echo(f"Alert queue on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
            uvicorn.run(create_app(settings, store), host="127.0.0.1", port=port, log_level="warning")
        store.close()
