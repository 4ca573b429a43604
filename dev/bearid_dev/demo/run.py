"""`run_demo`: the whole system in one call, from synthetic bears to MQTT sightings."""

from __future__ import annotations

import time
from collections.abc import Callable

from bearid_dev.demo.data import prepare_data
from bearid_dev.demo.field import run_field
from bearid_dev.demo.model import train_and_export
from bearid_dev.demo.options import DemoOptions
from bearid_dev.demo.report import DemoSummary, print_summary, summarise
from bearid_dev.demo.review import serve_review

Say = Callable[[str], None]


def run_demo(opts: DemoOptions, say: Say = print) -> DemoSummary:
    """Data -> split -> fit -> export -> enrol -> broker + agent -> chips -> summary."""
    start = time.monotonic()
    opts.workdir.mkdir(parents=True, exist_ok=True)
    say(f"== 1/4 data ({opts.workdir})")
    data = prepare_data(opts)
    say(f"{len(data.field)} encounters kept back for the cameras")
    say("== 2/4 train and export")
    model = train_and_export(opts, data.chips, say)
    say("== 3/4 field: gallery, broker, agent, cameras")
    field = run_field(opts, model, data.chips, data.field, say)
    say("== 4/4 results")
    summary = summarise(data.field, field.seen, field.ends)
    print_summary(summary, say)
    say(f"done in {time.monotonic() - start:.0f} s; everything is in {opts.workdir}")
    if opts.review:
        serve_review(opts, model, say)
    return summary
