"""A small headless software renderer for meshes (numpy + OpenCV, no GPU, no display).

Faces are drawn far to near (painter's algorithm) with flat Lambert shading; good enough
for synthetic training images, overlays and previews. Camera space: x right, y down,
z forward (OpenCV); pixels from a pinhole camera.
"""
import cv2
import numpy as np

LIGHT_DIRECTION = np.array([0.3, -0.5, -0.8])   # towards the light, camera space
AMBIENT = 0.35


def project_points(points, focal_length, principal_point):
    """Pinhole projection. points (N, 3) camera space (z > 0) -> (N, 2) pixels."""
    z = np.maximum(points[:, 2:3], 1e-6)
    return points[:, :2] / z * focal_length + np.asarray(principal_point, np.float64)


def render_mesh(image, vertices, faces, focal_length, principal_point, color=(200, 170, 150), face_ids=None,
                light_direction=LIGHT_DIRECTION):
    """Draw a mesh into ``image`` in place.

    Args:
        image: (H, W, 3) uint8 RGB, modified in place.
        vertices: (V, 3) camera-space vertices, metres, z > 0.
        faces: (F, 3) int vertex indices, counter-clockwise seen from outside.
        focal_length: pixels; principal_point: (cx, cy) pixels.
        color: base RGB colour.
        face_ids: optional (H, W) int32 array; receives the index of the visible face per
            pixel (pixels the mesh does not cover are left untouched).
        light_direction: (3,) direction towards the light, camera space.
    Returns:
        image.
    """
    tri = vertices[faces]                                            # (F, 3, 3)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    light = np.asarray(light_direction, np.float64) / np.linalg.norm(light_direction)
    # two-sided Lambert: the renderer must not depend on the winding of a foreign mesh
    shade = AMBIENT + (1.0 - AMBIENT) * np.abs(normals @ light)
    pix = project_points(vertices, focal_length, principal_point)
    pix_tri = np.round(pix[faces] * 16).astype(np.int32)             # 4 bits of sub-pixel precision
    order = np.argsort(-tri[:, :, 2].mean(1))                        # far to near
    base = np.asarray(color, np.float64)
    colours = np.clip(shade[:, None] * base[None], 0, 255).astype(np.uint8)
    in_front = tri[:, :, 2].min(1) > 1e-3
    for f in order:
        if not in_front[f]:
            continue
        poly = pix_tri[f]
        cv2.fillConvexPoly(image, poly, colours[f].tolist(), lineType=cv2.LINE_8, shift=4)
        if face_ids is not None:
            cv2.fillConvexPoly(face_ids, poly, int(f), lineType=cv2.LINE_8, shift=4)
    return image
