"""Looking at what was made: colouring of the ground-truth layers (`colors`), contact sheets
(`sheet`), preview videos (`video`) and the static HTML viewer (`html`, `kubric-gen view`).

Works on arrays only (no file format knowledge): `kubric_gen.io` writes previews with it,
and `kubric_gen.cli_view` reads scene directories and datasets for the viewer.
matplotlib, flow_vis and ffmpeg are used lazily.
"""

from kubric_gen.visual.colors import (
    depth_colors,
    flow_colors,
    flow_wheel,
    segmentation_colors,
    segmentation_overlay,
    segmentation_palette,
)
from kubric_gen.visual.sheet import contact_sheet, write_contact_sheet
from kubric_gen.visual.video import VideoError, write_gif, write_mp4

__all__ = ["VideoError", "contact_sheet", "depth_colors", "flow_colors", "flow_wheel", "segmentation_colors",
           "segmentation_overlay", "segmentation_palette", "write_contact_sheet", "write_gif", "write_mp4"]
