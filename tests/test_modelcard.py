"""Model card: schema, JSON / sidecar / ONNX round trips, and the exact error messages."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bearagent.modelcard import (
    METADATA_KEY,
    ModelCard,
    ModelCardInvalid,
    ModelCardMismatch,
    ModelCardMissing,
    ModelCardVersionError,
    card_from_json,
    card_to_json,
    load_model_card,
    read_onnx_card,
    read_sidecar,
    sha256_file,
    sidecar_path,
    write_model_card,
    write_onnx_card,
)
from support.models import card_dict, card_dict_v1, make_card, write_tiny_embedder

REEXPORT = "Export the model again with `bear-export`."


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_tiny_embedder(tmp_path / "embedder.onnx")


def test_json_round_trip() -> None:
    card = make_card()
    assert card_from_json(card_to_json(card), "test") == card


def test_sidecar_is_named_after_the_model_file() -> None:
    assert sidecar_path(Path("/m/embedder.onnx")) == Path("/m/embedder.onnx.json")


def test_write_model_card_embeds_and_writes_sidecar_with_file_hash(model: Path) -> None:
    written = write_model_card(model, make_card())
    assert written.model.sha256 == sha256_file(model)
    assert read_sidecar(sidecar_path(model)) == written
    embedded = read_onnx_card(model)
    assert embedded == make_card()  # the embedded copy has no hash
    assert embedded is not None and embedded.model.sha256 is None
    assert load_model_card(model) == written


def test_embedded_card_is_readable_by_onnx_and_onnxruntime(model: Path) -> None:
    """The agent's runtime and any ONNX tool see the same card under the same key."""
    write_model_card(model, make_card())
    props = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    session_props = ort.InferenceSession(str(model)).get_modelmeta().custom_metadata_map
    assert card_from_json(props[METADATA_KEY], "onnx") == make_card()
    assert session_props[METADATA_KEY] == props[METADATA_KEY]


def test_rewriting_the_card_replaces_it_and_keeps_other_metadata(model: Path) -> None:
    proto = onnx.load(str(model))
    onnx.helper.set_model_props(proto, {"author": "someone"})
    onnx.save(proto, str(model))
    write_onnx_card(model, make_card())
    second = make_card(embedding={"size": 8, "l2_normalised": False})
    write_onnx_card(model, second)
    props = [(p.key, p.value) for p in onnx.load(str(model)).metadata_props]
    assert [k for k, _ in props].count(METADATA_KEY) == 1
    assert ("author", "someone") in props
    assert read_onnx_card(model) == second


def test_model_still_runs_after_the_card_is_embedded(model: Path) -> None:
    import numpy as np

    write_model_card(model, make_card())
    out = ort.InferenceSession(str(model)).run(None, {"input": np.ones((2, 3, 8, 8), np.float32)})
    assert out[0].shape == (2, 8)


def test_card_from_sidecar_alone(model: Path) -> None:
    """An ONNX file without an embedded card still loads when its sidecar is right."""
    side = make_card().with_sha256(sha256_file(model))
    sidecar_path(model).write_text(card_to_json(side))
    assert load_model_card(model) == side


def test_card_from_the_onnx_file_alone(model: Path) -> None:
    write_model_card(model, make_card())
    sidecar_path(model).unlink()
    assert load_model_card(model) == make_card().with_sha256(sha256_file(model))


# --- the errors, word for word -------------------------------------------------------


def test_missing_card(model: Path) -> None:
    with pytest.raises(ModelCardMissing) as e:
        load_model_card(model)
    assert str(e.value) == (
        f"{model} has no bearid model card: no 'bearid.model_card' entry in its ONNX metadata "
        f"and no sidecar embedder.onnx.json. {REEXPORT}"
    )


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelCardMissing) as e:
        load_model_card(tmp_path / "nope.onnx")
    assert str(e.value) == f"model file {tmp_path / 'nope.onnx'} does not exist."


def test_missing_field() -> None:
    data = card_dict()
    del data["input"]["mean"]
    with pytest.raises(ModelCardInvalid) as e:
        card_from_json(json.dumps(data), "card.json")
    assert (
        str(e.value)
        == f"model card in card.json is invalid: missing field 'input.mean'. {REEXPORT}"
    )


def test_missing_format_version() -> None:
    data = card_dict()
    del data["format_version"]
    with pytest.raises(ModelCardInvalid) as e:
        card_from_json(json.dumps(data), "card.json")
    assert str(e.value) == (
        f"model card in card.json is invalid: missing field 'format_version'. {REEXPORT}"
    )


def test_unknown_field_is_an_error() -> None:
    data = card_dict()
    data["embedding"]["normalised"] = True
    with pytest.raises(ModelCardInvalid) as e:
        card_from_json(json.dumps(data), "card.json")
    assert str(e.value) == (
        f"model card in card.json is invalid: unknown field 'embedding.normalised'. {REEXPORT}"
    )


def test_several_problems_are_all_named() -> None:
    data = card_dict()
    del data["model"]["name"]
    data["input"]["std"] = [0.5, 0.0, 0.5]
    with pytest.raises(ModelCardInvalid) as e:
        card_from_json(json.dumps(data), "card.json")
    assert str(e.value) == (
        "model card in card.json is invalid: missing field 'model.name'; field 'input.std': "
        f"Value error, every std value must be greater than 0. {REEXPORT}"
    )


def test_unknown_version() -> None:
    with pytest.raises(ModelCardVersionError) as e:
        card_from_json(json.dumps(card_dict(format_version=7)), "card.json")
    assert str(e.value) == (
        "model card in card.json has format version 7, but this bearid reads versions 1 and 2. "
        "Export the model with the same bearid release as the agent, or upgrade the agent."
    )


def test_not_json() -> None:
    with pytest.raises(ModelCardInvalid, match=r"^model card in card.json is not valid JSON \("):
        card_from_json("{not json", "card.json")


def test_naive_created_at_is_refused() -> None:
    with pytest.raises(ModelCardInvalid, match="created_at needs a UTC offset"):
        card_from_json(json.dumps(card_dict(created_at="2026-11-27T10:00:00")), "card.json")


def test_mismatched_sha256(model: Path, tmp_path: Path) -> None:
    write_model_card(model, make_card())
    expected = read_sidecar(sidecar_path(model)).model.sha256
    other = write_tiny_embedder(tmp_path / "other.onnx", seed=1)
    write_onnx_card(other, make_card())
    shutil.copy(other, model)  # a different model under the old card
    actual = sha256_file(model)
    assert expected is not None
    with pytest.raises(ModelCardMismatch) as e:
        load_model_card(model)
    assert str(e.value) == (
        f"{model} does not match its model card embedder.onnx.json: the file's sha256 is "
        f"{actual[:12]}..., the card says {expected[:12]}.... The model or its card was replaced "
        "or damaged: copy both from the same `bear-export` output."
    )


def test_embedded_and_sidecar_cards_that_differ(model: Path) -> None:
    write_onnx_card(model, make_card())
    side = make_card(embedding={"size": 16, "l2_normalised": True}).with_sha256(sha256_file(model))
    sidecar_path(model).write_text(card_to_json(side))
    with pytest.raises(ModelCardMismatch) as e:
        load_model_card(model)
    assert str(e.value) == (
        f"the card inside {model} and embedder.onnx.json differ in embedding. "
        "Copy both from the same `bear-export` output."
    )


def test_a_file_that_is_not_onnx(tmp_path: Path) -> None:
    bad = tmp_path / "embedder.onnx"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is a JPEG, not a model")
    with pytest.raises(ModelCardInvalid) as e:
        load_model_card(bad)
    assert re.fullmatch(
        rf"{re.escape(str(bad))} is not an ONNX model \(\w+\)\. Point the agent at the "
        r"embedder\.onnx written by `bear-export`\.",
        str(e.value),
    )


# --- properties ------------------------------------------------------------------------

_unit = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(8, 1024),
    width=st.integers(8, 1024),
    mean=st.tuples(_unit, _unit, _unit),
    std=st.tuples(*[st.floats(1e-3, 2.0, allow_nan=False)] * 3),
    size=st.integers(2, 2048),
    threshold=st.floats(-1.0, 1.0, allow_nan=False),
    colour=st.sampled_from(["RGB", "BGR"]),
    resize=st.sampled_from(["stretch", "letterbox", "center_crop"]),
)
def test_any_valid_card_survives_json(
    height: int,
    width: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    size: int,
    threshold: float,
    colour: str,
    resize: str,
) -> None:
    data = card_dict(
        input={
            "height": height,
            "width": width,
            "colour_order": colour,
            "resize": resize,
            "mean": list(mean),
            "std": list(std),
        },
        embedding={"size": size, "l2_normalised": True},
        decision={
            "score": "margin3",
            "known_threshold": threshold,
            "unknown_threshold": threshold / 2 if threshold > 0 else threshold,
            "method": "manual",
        },
    )
    card = ModelCard.model_validate(data)
    assert card_from_json(card_to_json(card), "prop") == card


def test_a_format_1_card_loads_as_one_threshold_without_review_band(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        card = card_from_json(json.dumps(card_dict_v1()), "old.json")
    assert card.format_version == 1 and card.tracks is None
    d = card.decision
    assert (d.score, d.known_threshold, d.unknown_threshold, d.method) == (
        "best", 0.62, 0.62, "manual",
    )  # fmt: skip
    assert d.validation_set is not None and "format-1 threshold (calibrated" in d.validation_set
    assert "model card in old.json is format 1: one threshold (0.6200 on the best similarity)" in (
        caplog.text
    )


def test_a_format_2_card_without_a_decision_rule_is_refused() -> None:
    data = card_dict()
    del data["decision"]
    with pytest.raises(ModelCardInvalid, match="missing field 'decision'"):
        card_from_json(json.dumps(data), "card.json")
    crossed = card_dict(decision={"score": "best", "known_threshold": 0.2,
                                  "unknown_threshold": 0.5, "method": "manual"})  # fmt: skip
    with pytest.raises(ModelCardInvalid, match="known_threshold must not be below"):
        card_from_json(json.dumps(crossed), "card.json")


# --- uncalibrated cards: models bear-train did not train ---------------------------------

UNCALIBRATED = {"score": "best", "method": "uncalibrated", "known_threshold": None,
                "unknown_threshold": None, "reason": "a foreign model"}  # fmt: skip
FOREIGN_MODEL = {"name": "miewid", "backbone": "main_graph", "source": "adopted ONNX m.onnx"}


def test_an_uncalibrated_card_has_no_thresholds_tracks_or_training(model: Path) -> None:
    card = make_card(decision=UNCALIBRATED, tracks=None, training=None, model=FOREIGN_MODEL)
    assert card.format_version == 2 and card.tracks is None and card.training is None
    d = card.decision
    assert (d.known_threshold, d.unknown_threshold, d.is_calibrated) == (None, None, False)
    text = card_to_json(card)
    assert '"known_threshold": null' in text and '"unknown_threshold": null' in text
    written = write_model_card(model, card)
    assert load_model_card(model) == written and written.model.source == "adopted ONNX m.onnx"
    assert read_onnx_card(model) == card


def test_the_uncalibrated_constructor_matches_the_json_form() -> None:
    from bearagent.modelcard import DecisionSpec

    built = DecisionSpec.uncalibrated("margin3", "why")
    assert built.model_dump(exclude_none=True) == {
        "score": "margin3", "method": "uncalibrated", "reason": "why", "level": "encounter",
    }  # fmt: skip
    assert DecisionSpec.model_validate(card_dict()["decision"]).is_calibrated


@pytest.mark.parametrize(
    ("known", "unknown"), [(0.5, None), (None, 0.2), (0.5, 0.2)], ids=["known", "unknown", "both"]
)
def test_an_uncalibrated_rule_with_a_threshold_is_refused(
    known: float | None, unknown: float | None
) -> None:
    data = card_dict(decision={**UNCALIBRATED, "known_threshold": known,
                               "unknown_threshold": unknown})  # fmt: skip
    with pytest.raises(ModelCardInvalid) as e:
        card_from_json(json.dumps(data), "card.json")
    assert str(e.value) == (
        "model card in card.json is invalid: field 'decision': Value error, an uncalibrated rule "
        "has no thresholds: known_threshold and unknown_threshold must be null (the box "
        f"calibrates them on its gallery). {REEXPORT}"
    )


@pytest.mark.parametrize("method", ["manual", "calibrated"])
@pytest.mark.parametrize("missing", ["known_threshold", "unknown_threshold"])
def test_a_rule_with_thresholds_missing_one_is_refused(method: str, missing: str) -> None:
    decision = {**card_dict()["decision"], "method": method}
    decision[missing] = None
    with pytest.raises(ModelCardInvalid) as e:
        card_from_json(json.dumps(card_dict(decision=decision)), "card.json")
    assert str(e.value) == (
        f"model card in card.json is invalid: field 'decision': Value error, a {method} rule "
        "needs known_threshold and unknown_threshold; only an uncalibrated rule has none. "
        f"{REEXPORT}"
    )
    del decision[missing]  # left out rather than null: the same refusal
    with pytest.raises(ModelCardInvalid, match=f"a {method} rule needs known_threshold"):
        card_from_json(json.dumps(card_dict(decision=decision)), "card.json")


def test_a_format_2_card_from_before_the_foreign_models_still_reads() -> None:
    """Cards written before `source`, `reason` and the optional training: unchanged."""
    data = card_dict()
    assert "source" not in data["model"] and "reason" not in data["decision"]
    card = card_from_json(json.dumps(data), "old.json")
    assert card.model.source is None and card.decision.reason is None
    assert card.training is not None and card.training.individuals == 12
    assert card_to_json(card).count('"source": null') == 1


def test_an_unknown_method_is_refused() -> None:
    data = card_dict(decision={**card_dict()["decision"], "method": "guessed"})
    with pytest.raises(ModelCardInvalid, match=r"field 'decision.method': Input should be "
                       r"'calibrated', 'manual' or 'uncalibrated'"):  # fmt: skip
        card_from_json(json.dumps(data), "card.json")


def test_a_card_may_name_every_open_set_score_the_agent_knows() -> None:
    from typing import get_args

    from bearagent.decisions.scores import SCORE_NAMES
    from bearagent.modelcard.schema import ScoreName

    assert get_args(ScoreName) == SCORE_NAMES
    for score in SCORE_NAMES:
        assert make_card(decision={**UNCALIBRATED, "score": score}).decision.score == score
