"""The `medtrack` command: database, accounts, demo data, OpenAPI and the server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from service.config import Settings, SettingsError
from service.domain.accounts import STAFF_ROLES

if TYPE_CHECKING:
    from service.bootstrap import Runtime


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """medtrack: medication tracking, dose reminders and safe tapering.

    Settings come from MEDTRACK_* environment variables (see README).
    """


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations (SQLite or PostgreSQL) and grant the runtime role.

    On PostgreSQL with MEDTRACK_MIGRATION_DATABASE_URL set, migrations run as that
    URL's role (the owner) and the role of MEDTRACK_DATABASE_URL (or
    MEDTRACK_DATABASE_RUNTIME_ROLE) gets exactly the runtime privileges."""
    from service.db.migrate import upgrade

    settings = _settings()
    owner_url = settings.migration_database_url or settings.database_url
    upgrade(owner_url, revision)
    click.echo(f"database at revision {revision}")
    _grant_runtime(settings)


def _grant_runtime(settings: Settings) -> None:
    """On PostgreSQL with two roles, give the runtime role exactly its privileges
    and check that it holds no more."""
    from service.db.engine import make_engine
    from service.db.roles import RoleError, grant_runtime, runtime_role_of, unsafe_runtime_role

    owner_url = settings.migration_database_url or settings.database_url
    role = settings.database_runtime_role or (
        runtime_role_of(settings.database_url) if settings.migration_database_url else None
    )
    if role is None or runtime_role_of(owner_url) is None:
        return
    owner = make_engine(owner_url)
    try:
        granted = grant_runtime(owner, role)
    except RoleError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        owner.dispose()
    click.echo(f"runtime role {role}: {len(granted)} tables granted")
    if settings.migration_database_url:
        runtime = make_engine(settings.database_url)
        try:
            problems = unsafe_runtime_role(runtime)
        finally:
            runtime.dispose()
        if problems:
            raise click.ClickException("the runtime role may do too much: " + "; ".join(problems))
        click.echo(f"runtime role {role}: append-only tables take SELECT and INSERT only")


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Write a consistent copy of the database to PATH while the service runs
    (SQLite's online backup; pg_dump's custom format for PostgreSQL)."""
    from service.db.backup import BackupError, backup

    settings = _settings()
    try:
        backup(settings.migration_database_url or settings.database_url, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backed up to {path}")


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(path: Path) -> None:
    """Restore a backup from PATH into an empty database (MEDTRACK_MIGRATION_DATABASE_URL
    or MEDTRACK_DATABASE_URL), grant the runtime role, and verify the audit trail."""
    from service.db.backup import BackupError, restore
    from service.usecases.audit_chain import verify

    settings = _settings()
    try:
        restore(path, settings.migration_database_url or settings.database_url)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored from {path}")
    _grant_runtime(settings)
    report = verify(uow=_runtime(settings).db.uow())
    if not report.intact:
        raise click.ClickException(f"the restored audit trail does not verify: {report.breaks[0]}")
    click.echo(f"audit trail verified: {report.entries} entries in {report.chains} chains")


@main.group("audit")
def audit_group() -> None:
    """The audit trail's hash chains."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Walk every chain and anchor; name the first broken link of each broken chain."""
    from service.usecases.audit_chain import verify

    report = verify(uow=_runtime(_settings()).db.uow())
    counts = f"{report.entries} entries in {report.chains} chains, {report.anchors} anchors checked"
    if report.intact:
        click.echo(f"audit trail verified: {counts}")
        return
    for broken in report.breaks:
        click.echo(f"broken: {broken}", err=True)
    raise click.ClickException(f"audit trail does not verify ({counts})")


@audit_group.command("anchor")
def audit_anchor() -> None:
    """Write down the heads of the chains that moved (the scheduler does this too)."""
    from service.usecases.audit_chain import anchor

    runtime = _runtime(_settings())
    digest = anchor(uow=runtime.db.uow(), clock=runtime.clock)
    click.echo(f"anchored: {digest}" if digest else "nothing to anchor: no chain moved")


@main.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("create")
@click.option("--role", type=click.Choice([r.value for r in STAFF_ROLES]), required=True)
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when omitted (keeps it out of shell history).",
)
def users_create(role: str, email: str, name: str, password: str) -> None:
    """Create an admin or clinician account (bootstrap)."""
    from service.domain.accounts import Role
    from service.usecases import users
    from service.usecases.context import SYSTEM
    from service.usecases.errors import UseCaseError

    runtime = _runtime(_settings())
    try:
        user = users.create_staff_user(
            uow=runtime.db.uow(),
            caller=SYSTEM,
            clock=runtime.clock,
            passwords=runtime.passwords,
            role=Role(role),
            email=email,
            password=password,
            name=name,
        )
    except UseCaseError as exc:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
        raise click.ClickException(f"{exc.message} {details}".strip()) from exc
    click.echo(f"created {user.role} {user.email} ({user.id})")


@main.command()
@click.option(
    "--timezone",
    metavar="ZONE",
    help="Put every demo patient in this IANA zone (e.g. Europe/Paris); "
    "by default each has their own.",
)
def demo(timezone: str | None) -> None:
    """Seed demo accounts and prescriptions (idempotent) and print the credentials.

    Each patient's history is dated in their own zone from their local today, so
    the patients who sign in have doses today whenever it is run."""
    from service.usecases import demo as demo_data

    runtime = _runtime(_settings())
    try:
        creds = demo_data.seed(
            uow=runtime.db.uow,
            clock=runtime.clock,
            passwords=runtime.passwords,
            policy=runtime.login_policy,
            kb=runtime.knowledge,
            reminders=runtime.reminders,
            timezone=timezone,
        )
    except demo_data.UnknownZone as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from exc
    click.echo("Demo accounts (for development only):")
    for c in creds:
        state = "created" if c.created else "exists"
        click.echo(f"  {c.role:<9} {c.email:<32} {c.password:<26} ({state})")
    click.echo("Clinicians' console: /console/ on the server (sign in as the clinician)")


@main.group()
def openapi() -> None:
    """The OpenAPI description generated from the code."""


@openapi.command("write")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="openapi.yaml")
def openapi_write(path: Path) -> None:
    """Write the spec as YAML (the committed openapi.yaml is produced this way)."""
    path.write_text(generated_openapi_yaml(), encoding="utf-8")
    click.echo(f"wrote {path}")


def generated_openapi_yaml() -> str:
    from service import create_app

    app = create_app(Settings(env="test", database_url="sqlite://"))
    with app.app_context():
        return str(app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_yaml())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64), help="Default: MEDTRACK_WORKERS (2).")
@click.option("--threads", type=click.IntRange(1, 64), help="Default: MEDTRACK_THREADS (4).")
def serve(host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Serve the API with gunicorn (a production WSGI server)."""
    settings = _settings()
    _log_from_the_start(settings)
    from service.server import run

    run(
        settings,
        host=host,
        port=port,
        workers=workers or settings.workers,
        threads=threads or settings.threads,
    )


def _log_from_the_start(settings: Settings) -> None:
    """Logging set up before the server's modules are imported, so that what they log
    on import is held to the same levels as everything after."""
    from service.db.logs import configure_logging

    configure_logging(settings.log_level)


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def run_all(host: str, port: int) -> None:
    """Serve the API and run the scheduler beside it (development: `make run`)."""
    import subprocess

    settings = _settings()
    _log_from_the_start(settings)
    from service.server import run

    scheduler_process = subprocess.Popen([sys.executable, "-m", "schedules"])
    try:
        run(settings, host=host, port=port, workers=settings.workers, threads=settings.threads)
    finally:
        scheduler_process.terminate()
        try:
            scheduler_process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            scheduler_process.kill()


@main.command()
@click.option("--once", is_flag=True, help="Run every job once and exit (for cron and tests).")
def scheduler(once: bool) -> None:
    """Run the scheduler: plan doses, send reminders, follow up on missed doses."""
    from schedules.main import start

    try:
        start(_settings(), once=once)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group("interactions")
def interactions_group() -> None:
    """Interaction knowledge base."""


@interactions_group.command("import")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["ddinter", "csv"]),
    required=True,
    help="ddinter: DDInterID_A,Drug_A,DDInterID_B,Drug_B,Level. "
    "csv: drug_a,drug_b,severity[,mechanism,management,source].",
)
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
def interactions_import(fmt: str, files: tuple[Path, ...]) -> None:
    """Load licensed interaction datasets into the rule store (idempotent)."""
    from service.knowledge.importers import ImportFormatError
    from service.usecases.context import SYSTEM
    from service.usecases.imports import import_interactions

    runtime = _runtime(_settings())
    total = sum(max(0, _count_lines(f) - 1) for f in files)
    try:
        with click.progressbar(length=total, label="Reading", file=sys.stderr) as bar:
            summary = import_interactions(
                uow=runtime.db.uow(),
                caller=SYSTEM,
                clock=runtime.clock,
                kb=runtime.knowledge,
                fmt=fmt,
                paths=list(files),
                progress=bar.update,
            )
    except ImportFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rows read:              {summary.rows_read}")
    click.echo(f"pairs stored:           {summary.pairs_stored}")
    click.echo(f"  of which unknown level (stored, never alert): {summary.unknown_level}")
    click.echo(f"names not in catalog:   {summary.unresolved_names} (kept by name)")
    click.echo(f"rows rejected:          {len(summary.rejected)}")
    for r in summary.rejected[:20]:
        click.echo(f"  {r.where}: {r.reason}")
    if len(summary.rejected) > 20:
        click.echo(f"  ... and {len(summary.rejected) - 20} more")
    click.echo(f"knowledge base version: {summary.knowledge_base_version}")


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def _runtime(settings: Settings) -> Runtime:
    """What the command needs from settings (service.bootstrap), or the reason why not."""
    from service.bootstrap import bootstrap

    try:
        return bootstrap(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":
    sys.exit(main())
