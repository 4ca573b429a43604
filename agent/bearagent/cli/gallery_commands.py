"""``bearagent gallery ...``: enrol, list, rename, remove, promote, export, import, re-embed,
calibrate (the decision thresholds on this gallery; also after every change of it),
thumbnails (the pictures the review page and exports show).

Each command parses its options, calls one function of `bearagent.gallery`, and
prints what it did; library errors become one-line ``Error: ...`` messages.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click
import sqlite_utils

from bearagent import gallery
from bearagent.app import local_timezone
from bearagent.cli.group import main
from bearagent.cli.options import config_options
from bearagent.clikit import ErrorReportingGroup
from bearagent.config import AgentConfig
from bearagent.errors import BearIdError
from bearagent.gallery.recalibrate import Recalibration, recalibrate_model
from bearagent.gallery.reference_thumbnails import backfill as backfill_thumbnails
from bearagent.review import schema as review_schema
from bearagent.review.actions import Reviewer, ReviewService
from bearagent.rollout.switch import model_in_use
from bearagent.runtime import Embedder, RuntimeConfig, open_embedder


def _open(db_path: Path, *, create: bool = False) -> sqlite_utils.Database:
    if not create and not db_path.exists():
        raise gallery.GalleryError(
            f"gallery database {db_path} does not exist: enrol individuals first with "
            f"`bearagent gallery enroll ROOT --db {db_path}`"
        )
    return gallery.open_gallery(db_path)


def _embedder(model: Path) -> Embedder:
    return open_embedder(RuntimeConfig(model=model, warm_up=False))


def _review(db: sqlite_utils.Database, cfg: AgentConfig) -> ReviewService:
    """The review page's actions (audit row, correction event), for changes made here."""
    review_schema.ensure_schema(db)
    return ReviewService(cfg)


def _person() -> Reviewer:
    """Who is at the command line."""
    return Reviewer(f"{getpass.getuser()} (command line)")


def _calibrate(db: sqlite_utils.Database, cfg: AgentConfig) -> Recalibration | None:
    """Re-estimate the decision thresholds on the gallery (after it changed)."""
    if not cfg.decision.calibrate_on_gallery:
        return None
    try:
        in_use = model_in_use(cfg.runtime, cfg.agent.database_path)
        done = recalibrate_model(db, in_use.model, cfg.decision)
    except BearIdError as e:
        click.echo(f"not calibrated on the gallery: {e}", err=True)
        return None
    click.echo(f"decision thresholds ({done.score}): {done.note}", err=True)
    return done


@main.group("gallery", cls=ErrorReportingGroup)
def gallery_group() -> None:
    """Manage the gallery of individuals the agent recognises."""


@gallery_group.command("enroll")
@click.argument("root", type=click.Path(path_type=Path, file_okay=False))
@config_options
def enroll_command(root: Path, cfg: AgentConfig) -> None:
    """Enrol ROOT, laid out as ROOT/<individual>/<image>; re-running adds only new images."""
    db_path = cfg.agent.database_path
    model = model_in_use(cfg.runtime, cfg.agent.database_path).model  # after a rollout too
    db = _open(db_path, create=True)
    tz = local_timezone(cfg.agent.timezone)
    with _embedder(model) as embedder:
        report = gallery.enroll_folder(
            db, root, embedder, names=cfg.capture.pattern(tz), timezone=tz, agent_id=cfg.agent.id
        )
    for name, count in report.added.items():
        new = f" (new: {report.created[name]})" if name in report.created else ""
        click.echo(f"{name}: {count} reference(s) added{new}")
    for path, reason in report.rejected.items():
        click.echo(f"rejected {path}: {reason}", err=True)
    click.echo(
        f"enrolled {sum(report.added.values())} image(s) of {len(report.added)} individual(s); "
        f"{len(report.already_enrolled)} already enrolled, {len(report.rejected)} rejected"
    )
    if report.added:
        _calibrate(db, cfg)


@gallery_group.command("calibrate")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@config_options
def calibrate_command(cfg: AgentConfig, as_json: bool) -> None:
    """Re-estimate the known / review / unknown thresholds on this gallery.

    Genuine scores leave each encounter out, stranger scores each individual; a
    threshold is kept only where the upper bound of its error rate (at
    decision.confidence) is within its target, else that automatic decision is
    withheld (review). The result wins over the model card's thresholds when the
    gallery has at least decision.min_individuals individuals with two or more
    encounters. Runs on its own after enroll, import, remove, promote and reembed,
    and at agent start when stale.
    """
    db = _open(cfg.agent.database_path)
    result = _calibrate(db, cfg.model_copy(update={"decision": cfg.decision.model_copy(
        update={"calibrate_on_gallery": True})}))  # fmt: skip
    if as_json and result is not None and result.result is not None:
        c = result.result.calibration
        click.echo(json.dumps({
            "reason": result.result.reason,
            "individuals": result.result.individuals,
            "encounters": result.result.encounters,
            "score": result.score,
            "why": c.why if c else None,
            "figures": {**c.point.as_dict(), "auroc": c.auroc, "error_bound": c.error_bound,
                        "false_unknown_bound": c.false_unknown_bound} if c else None,
        }, indent=2))  # fmt: skip


@gallery_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_options
def list_command(cfg: AgentConfig, as_json: bool) -> None:
    """List individuals: id, name, kind, references, sightings, last seen."""
    db_path = cfg.agent.database_path
    people = gallery.list_individuals(_open(db_path))
    if as_json:
        click.echo(json.dumps([_as_dict(p) for p in people], indent=2))
        return
    rows = [("ID", "NAME", "KIND", "REFS", "SIGHTINGS", "LAST SEEN")]
    rows += [
        (p.id, p.name or "-", p.kind, str(p.references), str(p.sightings), p.last_seen or "-")
        for p in people
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _as_dict(p: gallery.Individual) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "kind": p.kind,
        "created": p.created,
        "notes": p.notes,
        "references": p.references,
        "sightings": p.sightings,
        "last_seen": p.last_seen,
    }


@gallery_group.command("show")
@click.argument("individual")
@config_options
def show_command(individual: str, cfg: AgentConfig) -> None:
    """Show one individual (by id or name) with its latest sightings."""
    db_path = cfg.agent.database_path
    db = _open(db_path)
    p = gallery.get_individual(db, individual)
    for key, value in _as_dict(p).items():
        click.echo(f"{key}: {'-' if value in (None, '') else value}")
    for s in gallery.sightings_of(db, p.id, limit=10):
        sim = "-" if s.similarity is None else f"{s.similarity:.3f}"
        click.echo(
            f"  seen {s.captured_at or '-'} {s.site or '-'}/{s.camera or '-'} {s.file} {sim}"
        )


@gallery_group.command("rename")
@click.argument("individual")
@click.argument("name")
@config_options
def rename_command(individual: str, name: str, cfg: AgentConfig) -> None:
    """Give INDIVIDUAL (id or name) the new NAME (audited, published as a correction)."""
    db = _open(cfg.agent.database_path)
    _review(db, cfg).rename(db, gallery.get_individual(db, individual).id, name, _person())
    p = gallery.get_individual(db, name)
    click.echo(f"{p.id} is now called {p.name}")


@gallery_group.command("remove")
@click.argument("individual")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@config_options
def remove_command(individual: str, cfg: AgentConfig, yes: bool) -> None:
    """Remove INDIVIDUAL (id or name) and its references; its sightings stay as history."""
    db_path = cfg.agent.database_path
    db = _open(db_path)
    p = gallery.get_individual(db, individual)
    if not yes:
        click.confirm(f"remove {p.id} ({p.label}) and its {p.references} reference(s)?", abort=True)
    gallery.remove(db, p.id)
    click.echo(f"removed {p.id} ({p.label}): {p.references} reference(s); sightings kept")
    _calibrate(db, cfg)


@gallery_group.command("promote")
@click.argument("unknown_id")
@click.option("--name", required=True, help="Name of the individual it becomes or joins.")
@config_options
def promote_command(unknown_id: str, name: str, cfg: AgentConfig) -> None:
    """Name provisional UNKNOWN_ID; with an existing NAME, merge it into that individual.

    As on the review page: one audited transaction that moves its references,
    sightings and encounters and publishes the correction (undo it there).
    """
    db = _open(cfg.agent.database_path)
    source = gallery.get_individual(db, unknown_id)
    if source.kind != "provisional":
        raise gallery.NotProvisional(
            f"{source.id} ({source.label}) is already a named individual: use "
            "`bearagent gallery rename` to change its name"
        )
    service, target = _review(db, cfg), gallery.find_by_name(db, name)
    if target is not None and gallery.get_individual(db, target).kind == "known":
        service.merge(db, source.id, target, _person())
    else:
        service.name_provisional(db, source.id, name, _person())
    p = gallery.get_individual(db, name)
    click.echo(f"{unknown_id} is now {p.id} ({p.name}): {p.references} reference(s)")
    _calibrate(db, cfg)


@gallery_group.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@config_options
def export_command(file: Path, cfg: AgentConfig) -> None:
    """Write the gallery to FILE (JSON; gzip when FILE ends in .gz)."""
    db_path = cfg.agent.database_path
    report = gallery.export_gallery(_open(db_path), file)
    click.echo(
        f"exported {report.individuals} individual(s), {report.references} reference(s) to {file}"
    )


@gallery_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@config_options
def import_command(file: Path, cfg: AgentConfig) -> None:
    """Merge the gallery export FILE into the gallery."""
    db_path = cfg.agent.database_path
    db = _open(db_path, create=True)
    report = gallery.import_gallery(db, file, agent_id=cfg.agent.id)
    for theirs, ours in report.created.items():
        click.echo(f"{theirs}: created as {ours}")
    for theirs, ours in report.merged.items():
        click.echo(f"{theirs}: merged into {ours}")
    click.echo(
        f"imported {report.references_added} reference(s); "
        f"{report.references_skipped} already present"
    )
    if report.references_added:
        _calibrate(db, cfg)


@gallery_group.command("reembed")
@click.option(
    "--drop-missing", is_flag=True, help="Remove references whose image is gone or unreadable."
)
@config_options
def reembed_command(cfg: AgentConfig, drop_missing: bool) -> None:
    """Re-embed every reference with MODEL from its source image (after a model change)."""
    db_path = cfg.agent.database_path
    model = model_in_use(cfg.runtime, cfg.agent.database_path).model  # after a rollout too
    with _embedder(model) as embedder:
        db = _open(db_path)
        report = gallery.reembed(db, embedder, drop_missing=drop_missing)
    for source, reason in report.dropped.items():
        click.echo(f"dropped {source}: {reason}", err=True)
    click.echo(
        f"re-embedded {report.reembedded} reference(s); {report.up_to_date} already up to "
        f"date; {len(report.dropped)} dropped"
    )
    _calibrate(db, cfg)


@gallery_group.command("thumbnails")
@config_options
def thumbnails_command(cfg: AgentConfig) -> None:
    """Make the thumbnail of every reference that has none (galleries enrolled before
    thumbnails were kept): from its image, else from the chip it was made from."""
    roots = [*cfg.watch.roots, *cfg.review.image_roots]
    report = backfill_thumbnails(_open(cfg.agent.database_path), roots)
    click.echo(
        f"made {report.from_files + report.from_sightings} thumbnail(s) ({report.from_files} "
        f"from images, {report.from_sightings} from sightings); {report.already} already "
        f"there; {report.missing} reference(s) without a readable image"
    )
