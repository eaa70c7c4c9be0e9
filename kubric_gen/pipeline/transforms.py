"""The Beam side of a run: seeds -> scene specs -> reshuffle -> render (imports apache_beam).

Only `kubric_gen.pipeline.run` imports this module, lazily. The pipeline is a straight
line on purpose: the DaskRunner computes only the last collection of a pipeline, and it
loses the output of Beam's file sinks, so the render step writes scene directories and
status records itself and the driver reads those back (see `run.summarize`).
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from kubric_gen.pipeline.outputs import scene_name
from kubric_gen.pipeline.task import RunSpec, process_scene


def scene_spec(seed: int) -> dict[str, Any]:
    return {"seed": int(seed), "scene": scene_name(int(seed))}


class RenderScenes(beam.DoFn):
    """Render each scene spec (in a child process, with retries); emit its status record."""

    def __init__(self, spec: RunSpec) -> None:
        super().__init__()
        self.spec = spec

    def process(self, element: dict[str, Any]):
        yield process_scene(element["seed"], self.spec)


class RenderSceneDirectories(beam.PTransform):
    """seeds (PBegin) -> status records, one per scene."""

    def __init__(self, seeds: list[int], spec: RunSpec) -> None:
        super().__init__()
        self.seeds = list(seeds)
        self.spec = spec

    def expand(self, pbegin):
        return (pbegin
                | "Seeds" >> beam.Create(self.seeds)
                | "SceneSpecs" >> beam.Map(scene_spec)
                | "Reshuffle" >> beam.Reshuffle()
                | "Render" >> beam.ParDo(RenderScenes(self.spec)))
