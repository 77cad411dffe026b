"""What the image demo writes per person: ``<stem>.npz``, ``.json``, ``.obj`` and ``_overlay.png``.

The overlay is the predicted mesh rendered over the image with the full-image perspective
camera (headless software renderer), next to a side view of the same mesh.
"""

import cv2
import numpy as np

from src.render.rasterizer import render_mesh
from model_utils.atomic_files import atomic_write, write_json, write_obj

MESH_COLOUR = (120, 170, 230)
SIDE_BACKGROUND = 235
SIDE_FILL = 0.85            # the side view's meshes span this share of the panel's width or height
SIDE_TURN = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])   # 90 degrees about y


def overlay_image(image, meshes, faces, focal):
    """(H, 2W, 3) RGB: every mesh over ``image`` | a side view of them.

    meshes: list of (V, 3) vertices already placed in the full-image camera frame (metres).
    """
    height, width = image.shape[:2]
    principal = ((width - 1) / 2.0, (height - 1) / 2.0)
    front = image.copy()
    panel = np.full((height, width, 3), SIDE_BACKGROUND, np.uint8)
    if not meshes:
        return np.concatenate([front, panel], 1)
    # far people first, so nearer ones are drawn over them
    for placed in sorted(meshes, key=lambda v: -float(v[:, 2].mean())):
        render_mesh(front, placed, faces, focal, principal, MESH_COLOUR)
    for turned in side_view(meshes, focal, (height, width)):
        render_mesh(panel, turned, faces, focal, principal, MESH_COLOUR)
    return np.concatenate([front, panel], 1)


def side_view(meshes, focal, panel_size):
    """The meshes turned 90 degrees about the vertical axis and framed on the panel's camera:
    their box centred on the optical axis, at the depth where they fill ``SIDE_FILL`` of it.

    meshes: list of (V, 3) camera-frame vertices (metres); panel_size: (height, width) pixels.
    Returns the list of moved (V, 3) vertices, nearest-last.
    """
    every = np.concatenate(meshes)
    centre = every.mean(0)
    turned = [(placed - centre) @ SIDE_TURN.T for placed in meshes]
    stacked = np.concatenate(turned)
    low, high = stacked.min(0), stacked.max(0)
    height, width = panel_size
    span = max((high[0] - low[0]) / (SIDE_FILL * width), (high[1] - low[1]) / (SIDE_FILL * height), 1e-6)
    # the nearest points sit at the fitted depth, so nothing grows past the fill
    shift = np.array([-(low[0] + high[0]) / 2.0, -(low[1] + high[1]) / 2.0, focal * span - low[2]])
    return sorted((t + shift for t in turned), key=lambda v: -float(v[:, 2].mean()))


def write_png(path, rgb):
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode {path}")
    with atomic_write(path) as handle:
        handle.write(data.tobytes())
    return path


def write_person(base, image, crop, prediction, faces, focal, extra):
    """Write ``base``.npz/.json/.obj of one person; returns ({kind: path}, placed vertices (V, 3)).

    ``prediction``: theta (85,), vertices, joints3d, keypoints2d (normalised crop coordinates).
    """
    theta = np.asarray(prediction["theta"], np.float64)
    cam, pose, betas = theta[:3], theta[3:75], theta[75:85]
    height, width = image.shape[:2]
    translation = crop.camera_translation(cam, (height, width), focal)
    keypoints = crop.to_image(np.asarray(prediction["keypoints2d"], np.float64))
    vertices = np.asarray(prediction["vertices"], np.float64)
    with atomic_write(base + ".npz") as handle:
        np.savez(handle, pose=pose.astype(np.float32), betas=betas.astype(np.float32), cam=cam.astype(np.float32),
                 vertices=vertices.astype(np.float32), joints=np.asarray(prediction["joints3d"], np.float32),
                 keypoints2d=keypoints.astype(np.float32), camera_translation=translation.astype(np.float32),
                 bbox=crop.box.astype(np.float32))
    write_json(base + ".json", dict(extra, cam=cam.tolist(), pose=pose.tolist(), betas=betas.tolist(),
                                    bbox_xywh=crop.box.tolist(), camera_translation=translation.tolist(),
                                    focal_length=focal, image_size=[height, width],
                                    keypoints2d=keypoints.tolist()))
    write_obj(base + ".obj", vertices + translation, faces)
    return {"npz": base + ".npz", "json": base + ".json", "obj": base + ".obj"}, vertices + translation
