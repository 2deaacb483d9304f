"""The long-running commands, ``gatekey serve`` and ``gatekey worker``, and ``gatekey migrate``.

Both long-running commands install the same logging before anything opens (the redacting
formatter of ``gatekey.logs``, one JSON object per line with ``GATEKEY_LOG_FORMAT=json``) and
run the same background ``Workers``: ``serve`` in its ASGI lifespan, ``worker`` in the
foreground until Ctrl-C or SIGTERM, when each loop finishes the piece of work it is on.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from gatekey import errors, logs
from gatekey.cli import signin
from gatekey.cli.app import announce, err, fail, opened, out
from gatekey.home import Served, record_served
from gatekey.runtime import background_workers, install_demo, open_runtime
from gatekey.settings import Settings

commands = typer.Typer()


MIGRATION_LOGGER = "alembic.runtime.migration"


def _logging(settings: Settings) -> Settings:
    """Send every log record through the redacting handler, text or JSON, as configured.

    Alembic's line per migration (and per start) shows at DEBUG only: at the default level
    what a first start prints for a person (the key file, the once-only admin key, where it
    serves) is not buried under them.
    """
    logs.configure(settings.log_level, settings.log_format)
    debugging = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    logging.getLogger(MIGRATION_LOGGER).setLevel(logging.NOTSET if debugging else logging.WARNING)
    return settings


_DEFAULTS = Settings.model_fields


@commands.command(
    epilog="Example: gatekey serve --demo --port 8141  (then open the sign-in link it prints)"
)
def serve(
    host: Annotated[
        str,
        typer.Option(
            help="address to listen on", envvar="GATEKEY_HOST", show_envvar=True, metavar="ADDRESS"
        ),
    ] = _DEFAULTS["host"].default,
    port: Annotated[
        int,
        typer.Option(
            help="port to listen on", envvar="GATEKEY_PORT", show_envvar=True, metavar="PORT"
        ),
    ] = _DEFAULTS["port"].default,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="also serve the Sandbox OAuth app under /sandbox (try OAuth2)"),
    ] = False,
) -> None:
    """Start the HTTP API, the web pages and the background workers.

    Everything lives in GATEKEY_HOME (default ~/.gatekey): the master key file, the SQLite
    database (unless GATEKEY_DATABASE_URL names another) and what this server serves, which
    other gatekey commands on the same home follow (its public URL, the demo). The database
    is migrated first.
    """
    import uvicorn

    from gatekey.server import create_app

    overrides: dict[str, Any] = {"demo": True} if demo else {}
    settings = _logging(Settings(host=host, port=port, **overrides))
    listener = _listening(settings.host, settings.port)
    try:
        runtime = open_runtime(settings, follow_serve=False)
        project = announce(runtime)
        install_demo(runtime, project.id)
    except errors.GatekeyError as exc:
        listener.close()
        raise fail(exc) from None
    record_served(settings.home, Served(origin=settings.origin, demo=settings.demo))
    err.print(
        f"Gatekey {runtime.db.url.render_as_string(hide_password=True)} "
        f"serving on http://{_address(settings.host)}:{settings.port}  (API docs: /docs)",
        markup=False,
    )
    signin.announce_link(runtime, project.id)
    if runtime.sandbox is not None:
        err.print(
            f"Demo: the Sandbox OAuth app is served at {settings.origin}/sandbox; connect it with "
            "'gatekey connections connect --app sandbox' (or in the web pages)",
            markup=False,
        )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, close_runtime=True, run_workers=True),
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's records go through Gatekey's redacting handler
            access_log=False,
        )
    )
    server.run(sockets=[listener])


def _address(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _listening(host: str, port: int) -> socket.socket:
    """Bind the server's socket before anything else starts, or fail saying why."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except (socket.gaierror, UnicodeError) as exc:
        listener.close()
        raise fail(errors.InvalidInput(f"cannot listen on {host!r}: {exc}")) from None
    except OSError as exc:
        listener.close()
        reason = exc.strerror or type(exc).__name__
        if exc.errno == errno.EADDRINUSE:
            reason = (
                "something else already listens there (another 'gatekey serve'?); "
                "stop it or pick another --port"
            )
        raise fail(
            errors.InvalidInput(f"cannot listen on {_address(host)}:{port}: {reason}")
        ) from None
    return listener


@commands.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    with opened():
        out.print("database is up to date")


@commands.command()
def worker(
    once: Annotated[bool, typer.Option(help="sweep once and exit")] = False,
) -> None:
    """Execute queued runs, refresh expiring tokens, send webhooks (what 'serve' also does)."""
    with opened(_logging(Settings())) as rt:
        workers = background_workers(rt)
        if once:
            done = workers.once()
            result = done.sweep
            out.print(
                f"refreshed {result.refreshed}, failed {result.failed}, deferred {result.deferred}"
                f"; executed {done.runs} run(s); sent {done.webhooks} webhook(s)"
                + (
                    f"; kept {done.keepalive.kept} idle credential(s) alive"
                    if done.keepalive
                    else ""
                ),
                markup=False,
            )
            return
        with _stopped_by_sigterm() as stopped:
            err.print(
                f"executing runs with {rt.settings.run_workers} threads, refreshing every "
                f"{rt.settings.refresh_interval:g} s (Ctrl-C stops)",
                markup=False,
            )
            workers.start()
            try:
                while not stopped.wait(1):
                    pass
            except KeyboardInterrupt:
                pass
            finally:
                workers.stop()


@contextmanager
def _stopped_by_sigterm() -> Iterator[threading.Event]:
    """An event SIGTERM sets (how a service manager or a container stops a process), so the
    loops finish the work they are on and the runtime writes what it holds before exiting."""
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGTERM, previous)
