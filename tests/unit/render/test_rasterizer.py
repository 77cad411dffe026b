"""The software rasteriser (src/render/rasterizer.py): depth order, shading, the mesh's window."""
import cv2
import numpy as np

from src.render.rasterizer import render_mesh

FOCAL, CENTRE = 100.0, (32.0, 32.0)


def _square(x0, y0, x1, y1, z):
    """Two triangles of a camera-facing square at depth z (metres), given by its pixel corners."""
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    vertices = np.array([[(x - CENTRE[0]) * z / FOCAL, (y - CENTRE[1]) * z / FOCAL, z] for x, y in corners])
    return vertices, np.array([[0, 1, 2], [0, 2, 3]])


def test_the_nearer_face_covers_the_farther_whatever_their_order():
    near_v, near_f = _square(10, 10, 40, 40, 2.0)
    far_v, far_f = _square(20, 20, 55, 55, 3.0)
    for vertices, faces, near_faces in ((np.concatenate([near_v, far_v]), np.concatenate([near_f, far_f + 4]), {0, 1}),
                                        (np.concatenate([far_v, near_v]), np.concatenate([far_f, near_f + 4]), {2, 3})):
        image, ids = np.zeros((64, 64, 3), np.uint8), np.full((64, 64), -1, np.int32)
        # light along the view axis: the squares face it, so each pixel gets the base colour (up to the
        # truncation to uint8)
        render_mesh(image, vertices, faces, FOCAL, CENTRE, (200, 100, 50), face_ids=ids, light_direction=(0, 0, -1))
        assert set(np.unique(ids[30, 30:38])) <= near_faces                   # inside both squares
        assert not set(np.unique(ids[45:50, 45:50])) & near_faces            # the far square alone
        assert (ids[5, 5] == -1) and (image[5, 5] == 0).all()                 # background untouched
        assert (np.abs(image[ids >= 0].astype(int) - (200, 100, 50)) <= 1).all()


def test_equals_drawing_every_face_over_the_whole_frame(body_model_arrays):
    """Against the direct painter's algorithm (each face, far to near, into the full image and the id
    map), for a body inside the frame, one cut by the frame's edges and one behind the camera."""
    vertices0 = body_model_arrays["v_template"] * [1, -1, -1]             # y down, facing the camera
    faces = np.asarray(body_model_arrays["f"], np.int64)
    rng = np.random.default_rng(0)
    for offset in ([0.0, 0.0, 4.0], [0.9, -0.5, 2.5], [0.0, 0.0, -3.0]):
        vertices = vertices0 + offset
        background = rng.integers(0, 255, (120, 90, 3)).astype(np.uint8)
        ids0 = np.full((120, 90), -1, np.int32)
        ids0[:3] = 7                                                        # earlier content is kept where not drawn
        image, ids = background.copy(), ids0.copy()
        render_mesh(image, vertices, faces, 150.0, (45.0, 60.0), (180, 150, 120), face_ids=ids,
                    light_direction=(0.3, -0.2, -1.0))
        expected, expected_ids = background.copy(), ids0.copy()
        tri = vertices[faces]
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        light = np.array([0.3, -0.2, -1.0]) / np.linalg.norm([0.3, -0.2, -1.0])
        shade = 0.35 + 0.65 * np.abs(normals @ light)
        pix = vertices[:, :2] / np.maximum(vertices[:, 2:], 1e-6) * 150.0 + [45.0, 60.0]
        for f in np.argsort(-tri[:, :, 2].mean(1)):
            if tri[f, :, 2].min() > 1e-3:
                poly = np.round(pix[faces[f]] * 16).astype(np.int32)
                colour = np.clip(shade[f] * np.array([180, 150, 120]), 0, 255).astype(np.uint8).tolist()
                cv2.fillConvexPoly(expected, poly, colour, lineType=cv2.LINE_8, shift=4)
                cv2.fillConvexPoly(expected_ids, poly, int(f), lineType=cv2.LINE_8, shift=4)
        np.testing.assert_array_equal(image, expected)
        np.testing.assert_array_equal(ids, expected_ids)
    assert (expected_ids == ids0).all()                                     # the last body: nothing drawn
