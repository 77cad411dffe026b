"""Pose and render a few random bodies of the configured body model (a visual check).

``python -m src.data.synthetic.preview [--KEY VALUE ...]`` builds the embedded default body
model under ``data_path`` when no SMPL file is there, poses ``preview_bodies`` random
bodies with the SMPL layer, renders them side by side and writes
``<output_path>/demo/bodies.png``, ``template.obj`` and the ``body_model`` entry of
``summary.json``.
"""
import logging
import os

import cv2
import numpy as np

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger(__name__)

CAMERA_DISTANCE = 3.2      # metres from the camera to the body's root
FOCAL_PER_PIXEL = 1.45     # focal length in units of the panel side


def _render_panel(vertices, faces, size):
    """Render one body (V, 3) in SMPL coordinates, seen from the front, into a size x size panel."""
    cam = vertices * np.array([1.0, -1.0, -1.0])          # rotate pi about x: SMPL y-up -> image y-down
    cam = cam - cam.mean(0) + np.array([0.0, 0.0, CAMERA_DISTANCE])
    panel = np.full((size, size, 3), 235, np.uint8)
    from src.render.rasterizer import render_mesh
    render_mesh(panel, cam, faces, FOCAL_PER_PIXEL * size, (size / 2, size / 2))
    return panel


def main(config, smpl=None):
    """Render the preview; ``smpl`` is reused when the caller has already built the layer."""
    import mindspore as ms
    from HMR import SMPL
    from src.data.model_files import resolve_model_files
    from src.data.synthetic.poses import sample_betas, sample_body_poses
    from src.data.synthetic.write_model import ensure_body_model
    from model_utils.atomic_files import read_json, write_json, write_obj

    out_dir = os.path.join(config.output_path, "demo")
    if smpl is None:
        ensure_body_model(config)
        smpl = SMPL(resolve_model_files(config)["smpl"])
    rng = np.random.default_rng(config.seed)
    n = config.preview_bodies
    betas = sample_betas(rng, n)
    poses = sample_body_poses(rng, n)
    betas[0], poses[0] = 0.0, 0.0                        # first panel: the template in its rest pose
    vertices, joints = smpl(ms.Tensor(betas), ms.Tensor(poses))
    vertices = vertices.asnumpy()
    panels = [_render_panel(v, smpl.faces, config.preview_image_size) for v in vertices]
    image_path = os.path.join(out_dir, "bodies.png")
    os.makedirs(out_dir, exist_ok=True)
    if not cv2.imwrite(image_path, cv2.cvtColor(np.concatenate(panels, 1), cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {image_path}")
    obj_path = write_obj(os.path.join(out_dir, "template.obj"), vertices[0], smpl.faces)
    heights = vertices[:, :, 1].max(1) - vertices[:, :, 1].min(1)
    summary_path = os.path.join(out_dir, "summary.json")
    summary = read_json(summary_path, {})
    summary["synthetic"] = bool(smpl.synthetic) or summary.get("synthetic", False)
    summary["body_model"] = {
        "path": smpl.model_path, "synthetic": bool(smpl.synthetic), "vertices": int(smpl.num_vertices),
        "faces": int(len(smpl.faces)), "joints": int(smpl.num_joints), "regressors": list(smpl.regressor_names),
        "rest_height_m": round(float(heights[0]), 4), "preview": image_path, "template_obj": obj_path,
    }
    write_json(summary_path, summary)
    logger.info("rendered %d bodies (rest height %.2f m) -> %s", n, heights[0], image_path)
    return summary


def _entry(config):
    from src.builders import set_mindspore_context
    setup_logging(os.path.join(config.output_path, "demo"))
    set_mindspore_context(config)
    return main(config)


if __name__ == "__main__":
    run_entry(_entry)
