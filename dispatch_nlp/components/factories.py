"""The built-in component factories, registered by name for ``config.json``'s ``components`` list.

Each takes the model config's section of its name and the shared ``Resources`` and returns the
component: ``normalize`` (section ``normalize``: ``cut_trails``, ``max_chars``), ``mask``, ``segment``
(section ``segment``: ``engine``), ``statement`` (section ``statement``: ``max_chars``; only models
whose ``components`` list names it run it), ``rules``, ``jurisdiction`` (section ``jurisdiction``: the learned
member's file, fusion weights) and ``classifier`` (section ``classifier``: members, weights, fusion).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dispatch_nlp.components.classifier import ClassifierStage
from dispatch_nlp.components.jurisdiction import build_jurisdiction_stage
from dispatch_nlp.components.preprocess import MaskStage, NormalizeStage, SegmentStage, build_segmenter
from dispatch_nlp.components.rules import RulesStage
from dispatch_nlp.components.statement import MAX_CHARS as STATEMENT_MAX_CHARS
from dispatch_nlp.components.statement import StatementStage
from dispatch_nlp.errors import ModelError
from dispatch_nlp.pipeline.registry import Resources, register_component

DEFAULT_MAX_CHARS = 5000


@register_component("normalize")
def make_normalize(section: Mapping[str, Any], res: Resources) -> NormalizeStage:
    return NormalizeStage(cut_trails=section.get("cut_trails", False),
                          max_chars=int(section.get("max_chars", DEFAULT_MAX_CHARS)))


@register_component("mask")
def make_mask(section: Mapping[str, Any], res: Resources) -> MaskStage:
    return MaskStage()


@register_component("segment")
def make_segment(section: Mapping[str, Any], res: Resources) -> SegmentStage:
    return SegmentStage(build_segmenter(res.catalog, res.gazetteer, section.get("engine", "rjieba")))


@register_component("statement")
def make_statement(section: Mapping[str, Any], res: Resources) -> StatementStage:
    return StatementStage(max_chars=int(section.get("max_chars", STATEMENT_MAX_CHARS)))


@register_component("rules")
def make_rules(section: Mapping[str, Any], res: Resources) -> RulesStage:
    return RulesStage(res.catalog)


@register_component("jurisdiction")
def make_jurisdiction(section: Mapping[str, Any], res: Resources):
    return build_jurisdiction_stage(res.gazetteer, res.model_dir, dict(section))


@register_component("classifier")
def make_classifier(section: Mapping[str, Any], res: Resources) -> ClassifierStage:
    if res.model_dir is None:
        raise ModelError("the classifier component needs a model directory")
    return ClassifierStage.load(Path(res.model_dir), dict(section), res.catalog, ort_spin=res.ort_spin,
                                ort_threads=res.ort_threads)
