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
    order = np.argsort(-tri[:, :, 2].mean(1))                        # far to near
    order = order[tri[order, :, 2].min(1) > 1e-3]                    # faces in front of the camera
    if not len(order):
        return image
    pix = project_points(vertices, focal_length, principal_point)
    # the faces' pixels only: a window around their vertices, clipped to the image (a polygon is
    # filled within its vertices' bounds, so the window changes no pixel)
    face_pix = pix[faces[order]]                                     # (F', 3, 2), far to near
    corners = face_pix.reshape(-1, 2)
    height, width = image.shape[:2]
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int) - 1, 0, [width, height])
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + 2, 0, [width, height])
    if x0 >= x1 or y0 >= y1:
        return image
    pix_tri = np.round(face_pix * 16).astype(np.int32) - 16 * np.array([x0, y0], np.int32)  # 4 sub-pixel bits
    # painter's algorithm on face indices alone; the colours follow from the last face drawn per pixel
    window = np.full((y1 - y0, x1 - x0), -1, np.int32)
    for face, poly in zip(order.tolist(), pix_tri):
        cv2.fillConvexPoly(window, poly, face, lineType=cv2.LINE_8, shift=4)
    covered = window >= 0
    drawn = window[covered]
    colours = np.clip(shade[:, None] * np.asarray(color, np.float64)[None], 0, 255).astype(np.uint8)
    image[y0:y1, x0:x1][covered] = colours[drawn]
    if face_ids is not None:
        face_ids[y0:y1, x0:x1][covered] = drawn
    return image
