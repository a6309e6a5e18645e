"""users, notify."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from ..cli import opened_store, settings_of
from ..errors import InputError

ROLES = ["responder", "analyst", "admin"]


@click.group()
def users() -> None:
    """Accounts for the web app: add, invite, list, change role or deactivate.

    \b
    Example:
      mediawatch users add admin@example.org --role admin
      mediawatch users invite volunteer@example.org --role responder
    """


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("add")
@click.argument("email")
@click.option(
    "--role", type=click.Choice(["responder", "analyst", "admin"]), default="responder", show_default=True
)
@click.option("--name", default="", help="Name shown to the team.")
@click.option("--language", type=click.Choice(["en", "fr"]), default="en", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def users_add(
    ctx: click.Context, email: str, role: str, name: str, language: str, password_stdin: bool
) -> None:
    """Create an account with a password (the first admin, or an account without mail).

    \b
    Example:
      mediawatch users add admin@example.org --role admin
      printf '%s\\n' "$PW" | mediawatch users add a@example.org --password-stdin
    """
    from ..web.auth import hash_password

    hashed = hash_password(_password(password_stdin))
    with opened_store(settings_of(ctx)) as store:
        user_id = store.create_user(email, role, hashed, name=name, language=language, by="cli")
    click.echo(f"user {user_id} {email.strip().lower()} ({role}) created")


@users.command("invite")
@click.argument("email")
@click.option(
    "--role", type=click.Choice(["responder", "analyst", "admin"]), default="responder", show_default=True
)
@click.pass_context
def users_invite(ctx: click.Context, email: str, role: str) -> None:
    """Print an invitation link (valid 7 days); the person sets their own password.

    \b
    Example:
      mediawatch users invite volunteer@example.org
    """
    from ..web.auth import INVITE_TTL

    settings = settings_of(ctx)
    with opened_store(settings) as store:
        token = store.create_invitation(email, role, None, INVITE_TTL, by="cli")
    base = settings.app_url.rstrip("/") or f"http://{settings.web_host}:{settings.web_port}"
    click.echo(f"{base}/invite/{token}")


@users.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def users_list(ctx: click.Context, fmt: str) -> None:
    """Every account with its role and state.

    \b
    Example:
      mediawatch users list --format json
    """
    with opened_store(settings_of(ctx)) as store:
        rows = store.users()
    if fmt == "json":
        for u in rows:
            click.echo(json.dumps(u.as_dict(), ensure_ascii=False))
        return
    for u in rows:
        state = "" if u.active else "  (deactivated)"
        click.echo(f"{u.id:>4}  {u.role:<9}  {u.email}  {u.name}{state}")


@users.command("set")
@click.argument("email")
@click.option("--role", type=click.Choice(["responder", "analyst", "admin"]))
@click.option("--active/--inactive", default=None, help="Deactivating signs the user out everywhere.")
@click.pass_context
def users_set(ctx: click.Context, email: str, role: str | None, active: bool | None) -> None:
    """Change an account's role, or deactivate / reactivate it.

    \b
    Example:
      mediawatch users set volunteer@example.org --role analyst
      mediawatch users set leaver@example.org --inactive
    """
    changes = {k: v for k, v in {"role": role, "active": active}.items() if v is not None}
    if not changes:
        raise InputError("users set: give --role, --active or --inactive")
    with opened_store(settings_of(ctx)) as store:
        found = store.user_login(email)
        if found is None:
            raise InputError(f"email: no user {email.strip().lower()}")
        user = store.update_user(found[0].id, "cli", **changes)
    click.echo(f"user {user.id} {user.email}: role={user.role} active={user.active}")


@click.command()
@click.pass_context
def notify(ctx: click.Context) -> None:
    """Send what is due now: urgent alerts, the daily digest (at MEDIAWATCH_DIGEST_TIME) and
    escalation reminders, by SMTP (MEDIAWATCH_SMTP_URL) and webhooks (MEDIAWATCH_WEBHOOK_URLS).
    Each notice goes out once; `mediawatch run` does this every few minutes.

    \b
    Example:
      MEDIAWATCH_SMTP_URL=smtp://127.0.0.1:25 mediawatch notify
    """
    from ..notices import send_due_notices

    settings = settings_of(ctx)
    with opened_store(settings) as store:
        stats = send_due_notices(store, settings, datetime.now(UTC))
    click.echo(" ".join(f"{k}={v}" for k, v in sorted(stats.items())) or "nothing due")


COMMANDS = [users, notify]
