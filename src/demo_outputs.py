"""What the image demo writes per person: ``<stem>.npz``, ``.json``, ``.obj`` and ``_overlay.png``.

The overlay is the predicted mesh rendered over the image with the full-image perspective
camera (headless software renderer), next to a side view of the same mesh.
"""
import os

import cv2
import numpy as np

from src.render.rasterizer import render_mesh
from src.utils.atomic import atomic_write
from src.utils.mesh_io import write_json, write_obj

MESH_COLOUR = (120, 170, 230)
SIDE_BACKGROUND = 235


def default_focal_length(height, width):
    """Full-image focal length in pixels when none is given: the image diagonal (as CLIFF)."""
    return float(np.hypot(height, width))


def overlay_image(image, vertices, faces, translation, focal):
    """(H, 2W, 3) RGB: the mesh over ``image`` | a side view. vertices (V, 3) in the model frame, metres."""
    height, width = image.shape[:2]
    principal = ((width - 1) / 2.0, (height - 1) / 2.0)
    placed = vertices + translation
    front = render_mesh(image.copy(), placed, faces, focal, principal, MESH_COLOUR)
    centre = placed.mean(0)
    turn = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])          # 90 degrees about y
    side = (placed - centre) @ turn.T + centre
    panel = np.full((height, width, 3), SIDE_BACKGROUND, np.uint8)
    render_mesh(panel, side, faces, focal, principal, MESH_COLOUR)
    return np.concatenate([front, panel], 1)


def write_png(path, rgb):
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode {path}")
    with atomic_write(path) as handle:
        handle.write(data.tobytes())
    return path


def write_person(out_folder, stem, image, crop, prediction, faces, focal, extra):
    """Write the four files of one person. ``prediction``: theta (85,), vertices, joints3d, keypoints2d.

    Returns {kind: path}.
    """
    theta = np.asarray(prediction["theta"], np.float64)
    cam, pose, betas = theta[:3], theta[3:75], theta[75:85]
    height, width = image.shape[:2]
    translation = crop.camera_translation(cam, (height, width), focal)
    keypoints = crop.to_image(np.asarray(prediction["keypoints2d"], np.float64))
    base = os.path.join(out_folder, stem)
    buffer_path = base + ".npz"
    with atomic_write(buffer_path) as handle:
        np.savez(handle, pose=pose.astype(np.float32), betas=betas.astype(np.float32), cam=cam.astype(np.float32),
                 vertices=np.asarray(prediction["vertices"], np.float32),
                 joints=np.asarray(prediction["joints3d"], np.float32), keypoints2d=keypoints.astype(np.float32),
                 camera_translation=translation.astype(np.float32), bbox=crop.box.astype(np.float32))
    write_json(base + ".json", dict(extra, cam=cam.tolist(), pose=pose.tolist(), betas=betas.tolist(),
                                    bbox_xywh=crop.box.tolist(), camera_translation=translation.tolist(),
                                    focal_length=focal, image_size=[height, width],
                                    keypoints2d=keypoints.tolist()))
    write_obj(base + ".obj", np.asarray(prediction["vertices"]) + translation, faces)
    write_png(base + "_overlay.png", overlay_image(image, np.asarray(prediction["vertices"], np.float64), faces,
                                                   translation, focal))
    return {"npz": buffer_path, "json": base + ".json", "obj": base + ".obj", "overlay": base + "_overlay.png"}
