"""The Beam side of a run: seeds -> scene specs -> reshuffle -> process each scene.

Only `kubric_gen.pipeline.driver` imports this module, lazily; apache_beam comes from
`kubric_gen.beam`. The pipeline is a straight line on purpose: the DaskRunner computes only
the last collection of a pipeline, and it loses the output of Beam's file sinks, so the
processing step writes scene directories and status records itself and the driver reads
those back (see `driver.summarize`).
"""

from __future__ import annotations

from typing import Any

from kubric_gen.beam import module
from kubric_gen.pipeline.outputs import scene_name
from kubric_gen.pipeline.task import PipelineSpec, process_scene

beam = module()


def scene_spec(seed: int) -> dict[str, Any]:
    return {"seed": int(seed), "scene": scene_name(int(seed))}


class ProcessScenes(beam.DoFn):
    """Generate each scene spec (in a child process, with retries); emit its status record
    (nothing for a scene left undone because the run is being stopped)."""

    def __init__(self, spec: PipelineSpec) -> None:
        super().__init__()
        self.spec = spec

    def process(self, element: dict[str, Any]):
        record = process_scene(element["seed"], self.spec)
        if record is not None:
            yield record


class GenerateScenes(beam.PTransform):
    """seeds (PBegin) -> status records, one per scene."""

    def __init__(self, seeds: list[int], spec: PipelineSpec) -> None:
        super().__init__()
        self.seeds = list(seeds)
        self.spec = spec

    def expand(self, pbegin):
        return (pbegin
                | "Seeds" >> beam.Create(self.seeds)
                | "SceneSpecs" >> beam.Map(scene_spec)
                | "Reshuffle" >> beam.Reshuffle()
                | "ProcessScenes" >> beam.ParDo(ProcessScenes(self.spec)))
