"""serve, demo."""

from __future__ import annotations

import click

from ..cli import settings_of


@click.command()
@click.option("--host", help="Address to listen on (default: settings web_host).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: settings web_port).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the web app: the alert queue and alert pages.

    \b
    Example:
      mediawatch serve --port 8000    # then open http://127.0.0.1:8000/
    """
    import uvicorn

    from ..web import create_app

    settings = settings_of(ctx)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host or settings.web_host,
        port=port if port is not None else settings.web_port,
        log_level="warning",
    )


@click.command()
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the web app afterwards.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Web app port.")
@click.pass_context
def demo(ctx: click.Context, serve: bool, port: int) -> None:
    """Run a full cycle on the bundled demo site (fictional outlets) into var/demo.db, print what
    it found, then serve the alert queue.

    \b
    Example:
      mediawatch demo                 # then open http://127.0.0.1:8000/
      mediawatch demo --no-serve
    """
    from ..demo import run_demo

    run_demo(settings_of(ctx), serve=serve, port=port)


COMMANDS = [serve, demo]
