"""`run_demo`: the whole system in one call, from synthetic bears to MQTT sightings."""

from __future__ import annotations

import time
from collections.abc import Callable

from bearid_dev.demo.data import prepare_data
from bearid_dev.demo.detector import train_detector
from bearid_dev.demo.field import run_field
from bearid_dev.demo.frames_field import run_frames_field
from bearid_dev.demo.frames_report import FramesSummary, print_frames_summary, summarise_frames
from bearid_dev.demo.model import train_and_export
from bearid_dev.demo.options import DemoOptions
from bearid_dev.demo.report import DemoSummary, print_summary, summarise
from bearid_dev.demo.review import serve_review

Say = Callable[[str], None]


def run_demo(opts: DemoOptions, say: Say = print) -> DemoSummary | FramesSummary:
    """Data -> split -> fit -> export -> enrol -> broker + agent -> chips -> summary
    (with `opts.frames`: a detector too, and frames and a clip instead of chips)."""
    start = time.monotonic()
    opts.workdir.mkdir(parents=True, exist_ok=True)
    say(f"== 1/4 data ({opts.workdir})")
    data = prepare_data(opts)
    say(f"{len(data.field)} encounters kept back for the cameras")
    say("== 2/4 train and export" + (" (embedder, then detector)" if opts.frames else ""))
    model = train_and_export(opts, data.chips, say)
    summary: DemoSummary | FramesSummary
    if opts.frames:
        detector = train_detector(opts, say)
        say("== 3/4 field: gallery, broker, agent with its detector, cameras")
        run = run_frames_field(opts, model, detector, data.chips, data.field, say)
        say("== 4/4 results")
        summary = summarise_frames(run)
        print_frames_summary(summary, say)
    else:
        say("== 3/4 field: gallery, broker, agent, cameras")
        field = run_field(opts, model, data.chips, data.field, say)
        say("== 4/4 results")
        summary = summarise(data.field, field.seen, field.ends)
        print_summary(summary, say)
    say(f"done in {time.monotonic() - start:.0f} s; everything is in {opts.workdir}")
    if opts.review:
        serve_review(opts, model, say)
    return summary
