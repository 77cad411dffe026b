"""The embedded default body model: a synthetic SMPL-format model built from a seed.

SMPL itself is licence-gated, so the project builds a stand-in with the official keys and
shapes (6890 vertices, 13776 faces, 24 joints, 10 shape and 207 pose directions, a
19-row cocoplus and a 17-row Human3.6M regressor). The surface is three closed tubes swept
along a T-posed skeleton (torso+head, both arms, both legs), joined inside the body by two
hidden triangular bridges into one closed, oriented, genus-0 mesh, so that
``faces = 2 * vertices - 4`` holds exactly as for SMPL. Every output is labelled synthetic.

Coordinates are SMPL's: metres, x to the subject's left, y up, z forward.
"""
import numpy as np

from HMR.constants import NUM_BETAS, NUM_SMPL_FACES, NUM_SMPL_VERTICES, SMPL_JOINT_NAMES, SMPL_PARENTS

# Tubes: (segments around, rings along). 40*40 + 24*100 + 28*103 + 3 * 2 poles = 6890.
TUBE_RESOLUTION = {"torso": (40, 40), "arms": (24, 100), "legs": (28, 103)}
SKIN_SIGMA = 0.045          # metres, Gaussian fall-off of skinning weight with bone distance
SKIN_KEEP = 4               # joints kept per vertex (as in SMPL, most vertices have <= 4)
POSE_BLEND_SCALE = 0.012    # metres of corrective offset per unit of (R - I) entry

# Which joints may skin the vertices of each tube.
TUBE_JOINTS = {
    "torso": ("pelvis", "left_hip", "right_hip", "spine1", "spine2", "spine3", "neck", "left_collar",
              "right_collar", "head", "left_shoulder", "right_shoulder"),
    "arms": ("spine3", "left_collar", "right_collar", "left_shoulder", "right_shoulder", "left_elbow",
             "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand"),
    "legs": ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
             "left_foot", "right_foot"),
}


def _mirror(points):
    """Left-side key points (x > 0) -> the right side, listed outside-in."""
    return [(-x, y, z) + tuple(rest) for (x, y, z, *rest) in reversed(points)]


def _skeleton_params(beta):
    """Key points of the three tubes for shape coefficients ``beta`` (10,).

    Each tube is a list of (x, y, z, radius_a, radius_b) along its axis, end to end.
    The shape coefficients act like SMPL's first principal components: stature, girth,
    leg length, shoulder width, hip width, torso length, arm length, head size, chest
    depth and limb thickness (stature is applied to the whole surface by the caller).
    """
    _stature, girth, leg_len, shoulder_w, hip_w, torso_len, arm_len, head_s, chest_d, limb_t = beta
    g = 1.0 + 0.10 * girth
    lt = 1.0 + 0.08 * limb_t
    hs = 1.0 + 0.06 * head_s
    tl = 1.0 + 0.05 * torso_len
    ll = 1.0 + 0.05 * leg_len
    hip_x = 0.09 + 0.012 * hip_w
    sh_x = 0.19 + 0.015 * shoulder_w
    al = 1.0 + 0.05 * arm_len
    pelvis_y = -0.22

    def ty(y):  # torso heights scale about the pelvis
        return pelvis_y + (y - pelvis_y) * tl

    chest = 1.0 + 0.06 * chest_d
    torso = [
        (0.0, -0.36, 0.01, 0.001, 0.001), (0.0, -0.345, 0.01, 0.09 * g, 0.07 * g),
        (0.0, -0.30, 0.01, 0.15 * g, 0.10 * g), (0.0, -0.22, 0.0, 0.165 * g, 0.11 * g),
        (0.0, ty(-0.05), 0.0, 0.14 * g, 0.095 * g * (2.0 - chest)),
        (0.0, ty(0.10), 0.005, 0.155 * g, 0.11 * g * chest), (0.0, ty(0.21), -0.01, 0.17 * g, 0.095 * g),
        (0.0, ty(0.27), -0.01, 0.08 * g, 0.065 * g), (0.0, ty(0.31), 0.0, 0.055 * lt, 0.055 * lt),
        (0.0, ty(0.31) + 0.05 * hs, 0.02, 0.08 * hs, 0.09 * hs),
        (0.0, ty(0.31) + 0.13 * hs, 0.03, 0.095 * hs, 0.105 * hs),
        (0.0, ty(0.31) + 0.20 * hs, 0.025, 0.08 * hs, 0.09 * hs),
        (0.0, ty(0.31) + 0.245 * hs, 0.02, 0.03 * hs, 0.035 * hs), (0.0, ty(0.31) + 0.255 * hs, 0.02, 0.001, 0.001),
    ]
    arm_y, arm_z = ty(0.215), -0.02

    def ax(x):  # arm lengths scale outward from the shoulder
        return sh_x + (x - 0.19) * al if x > 0.19 else x * sh_x / 0.19

    left_arm = [  # inside-out: chest centre to finger tips
        (0.0, arm_y, arm_z, 0.055 * g), (ax(0.19), arm_y, arm_z, 0.058 * g), (ax(0.32), arm_y - 0.005, arm_z, 0.048 * g * lt),
        (ax(0.45), arm_y - 0.01, arm_z - 0.01, 0.037 * lt), (ax(0.58), arm_y - 0.01, arm_z, 0.04 * lt),
        (ax(0.70), arm_y - 0.01, arm_z, 0.028 * lt), (ax(0.78), arm_y - 0.015, arm_z, 0.042),
        (ax(0.86), arm_y - 0.02, arm_z, 0.03), (ax(0.895), arm_y - 0.02, arm_z, 0.001)]
    arms = [(x, y, z, r, r) for (x, y, z, r) in _mirror(left_arm)[:-1]] + [(x, y, z, r, r) for (x, y, z, r) in left_arm]
    def ly(y):  # leg heights scale down from the hip
        return -0.26 + (y + 0.26) * ll

    left_leg = [  # inside-out: across the pelvis, down the leg, forward along the foot
        (0.0, -0.20, 0.0, 0.09 * g), (hip_x, -0.25, 0.0, 0.095 * g), (hip_x + 0.01, ly(-0.45), 0.01, 0.075 * g * lt),
        (0.11, ly(-0.66), 0.015, 0.052 * lt), (0.10, ly(-0.86), 0.0, 0.055 * lt), (0.09, ly(-1.06), -0.02, 0.04),
        (0.095, ly(-1.11), 0.02, 0.04), (0.11, ly(-1.125), 0.12, 0.035), (0.115, ly(-1.125), 0.165, 0.001)]
    legs = [(x, y, z, r, r) for (x, y, z, r) in _mirror(left_leg)[:-1]] + [(x, y, z, r, r) for (x, y, z, r) in left_leg]
    return {"torso": torso, "arms": arms, "legs": legs}


def _resample(keypoints, num):
    """Piecewise-linear resampling of key points at ``num`` positions uniform in arc length."""
    keys = np.asarray(keypoints, np.float64)
    seg = np.linalg.norm(np.diff(keys[:, :3], axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    target = np.linspace(0.0, arc[-1], num)
    return np.stack([np.interp(target, arc, keys[:, c]) for c in range(keys.shape[1])], 1)


def _tube(keypoints, segments, rings):
    """Closed tube around a poly-line: ``rings`` rings of ``segments`` vertices plus two poles.

    Returns vertices (rings*segments + 2, 3), faces (2*rings*segments, 3) with outward
    orientation, and per-vertex axis centre (N, 3) and outward unit normal (N, 3).
    """
    samples = _resample(keypoints, rings + 2)           # first and last sample are the poles
    centres, radii = samples[:, :3], samples[:, 3:]
    tangents = np.gradient(centres, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    # rotation-minimising frame, starting from the axis least aligned with the tangent
    start = np.eye(3)[np.argmin(np.abs(tangents[0]))]
    normal = start - start.dot(tangents[0]) * tangents[0]
    frames = []
    for t in tangents:
        normal = normal - normal.dot(t) * t
        normal /= np.linalg.norm(normal)
        frames.append((normal, np.cross(t, normal)))
    phi = 2.0 * np.pi * np.arange(segments) / segments
    verts, vcentre, vnormal = [centres[0]], [centres[0]], [-tangents[0]]
    for i in range(1, rings + 1):
        n, b = frames[i]
        direction = np.cos(phi)[:, None] * n + np.sin(phi)[:, None] * b
        offset = np.cos(phi)[:, None] * n * radii[i, 0] + np.sin(phi)[:, None] * b * radii[i, 1]
        verts.extend(centres[i] + offset)
        vcentre.extend([centres[i]] * segments)
        vnormal.extend(direction)
    verts.append(centres[-1])
    vcentre.append(centres[-1])
    vnormal.append(tangents[-1])
    last = 1 + rings * segments

    def ring(i, j):
        return 1 + i * segments + (j % segments)

    faces = []
    for j in range(segments):
        faces.append((0, ring(0, j + 1), ring(0, j)))
        faces.append((last, ring(rings - 1, j), ring(rings - 1, j + 1)))
    for i in range(rings - 1):
        for j in range(segments):
            a, b, c, d = ring(i, j), ring(i, j + 1), ring(i + 1, j + 1), ring(i + 1, j)
            faces.extend([(a, b, c), (a, c, d)])
    return np.asarray(verts), np.asarray(faces, np.int64), np.asarray(vcentre), np.asarray(vnormal)


def _build_surface(beta):
    """Vertices of all tubes for ``beta``; topology (and faces, tube ids) do not depend on beta."""
    params = _skeleton_params(np.asarray(beta, np.float64))
    verts, faces, centres, normals, tube_id = [], [], [], [], []
    offset = 0
    for index, name in enumerate(("torso", "arms", "legs")):
        segments, rings = TUBE_RESOLUTION[name]
        v, f, c, n = _tube(params[name], segments, rings)
        verts.append(v)
        faces.append(f + offset)
        centres.append(c)
        normals.append(n)
        tube_id.append(np.full(len(v), index))
        offset += len(v)
    verts = np.concatenate(verts)
    stature = 1.0 + 0.06 * float(beta[0])
    verts[:, 1] = (verts[:, 1] + 0.22) * stature - 0.22          # taller about the pelvis
    verts[:, [0, 2]] *= 1.0 + 0.02 * float(beta[0])
    centres = np.concatenate(centres)
    centres[:, 1] = (centres[:, 1] + 0.22) * stature - 0.22
    centres[:, [0, 2]] *= 1.0 + 0.02 * float(beta[0])
    return verts, np.concatenate(faces), centres, np.concatenate(normals), np.concatenate(tube_id)


def _inside_tube(points, verts, centres, tube_mask, margin=0.7):
    """Rough inside test: closer to the tube's axis than ``margin`` times the local radius
    (the smallest radius of the nearest ring)."""
    axis, ring_of = np.unique(centres[tube_mask].round(9), axis=0, return_inverse=True)
    radius = np.full(len(axis), np.inf)
    np.minimum.at(radius, ring_of.ravel(), np.linalg.norm(verts[tube_mask] - centres[tube_mask], axis=1))
    d = np.linalg.norm(points[:, None, :] - axis[None], axis=2)
    nearest = np.argmin(d, axis=1)
    return d[np.arange(len(points)), nearest] < margin * radius[nearest]


def _bridge(faces, verts, centres, tube_id, tube_a, tube_b):
    """Join two closed tubes: remove one hidden face of each and connect the two holes with
    a 6-triangle prism that lies inside the body. Keeps the mesh closed and oriented."""
    centroid = verts[faces].mean(1)
    face_tube = tube_id[faces[:, 0]]
    cand_a = np.where((face_tube == tube_a) & _inside_tube(centroid, verts, centres, tube_id == tube_b))[0]
    cand_b = np.where((face_tube == tube_b) & _inside_tube(centroid, verts, centres, tube_id == tube_a))[0]
    if len(cand_a) == 0 or len(cand_b) == 0:
        raise RuntimeError("synthetic body: tubes do not overlap, cannot bridge them")
    dist = np.linalg.norm(centroid[cand_a][:, None] - centroid[cand_b][None], axis=2)
    ia, ib = np.unravel_index(np.argmin(dist), dist.shape)
    fa, fb = faces[cand_a[ia]], faces[cand_b[ib]]
    best = None
    for shift in range(3):     # b is walked in reverse; choose the pairing with the shortest rungs
        mapping = [(shift - i) % 3 for i in range(3)]
        length = sum(np.linalg.norm(verts[fa[i]] - verts[fb[mapping[i]]]) for i in range(3))
        if best is None or length < best[0]:
            best = (length, mapping)
    mapping = best[1]
    new_faces = []
    for i in range(3):
        a0, a1 = fa[i], fa[(i + 1) % 3]
        b0, b1 = fb[mapping[i]], fb[mapping[(i + 1) % 3]]
        new_faces.extend([(a0, a1, b1), (a0, b1, b0)])
    keep = np.ones(len(faces), bool)
    keep[[cand_a[ia], cand_b[ib]]] = False
    return np.concatenate([faces[keep], np.asarray(new_faces, np.int64)])


def _ring_regressor(verts, centres, tube_mask, target):
    """A regressor row averaging the tube rings whose centres bracket ``target``: the mean of a
    ring is its axis centre, so the row reproduces ``target`` (up to the axis' curvature)."""
    idx = np.where(tube_mask)[0]
    unique_centres, ring_of = np.unique(centres[idx].round(9), axis=0, return_inverse=True)
    d = np.linalg.norm(unique_centres - target, axis=1)
    nearest = np.argsort(d)[:2]
    w_ring = 1.0 / (d[nearest] + 1e-6)
    w_ring /= w_ring.sum()
    row = np.zeros(len(verts))
    for ring_index, w in zip(nearest, w_ring):
        members = idx[ring_of.ravel() == ring_index]
        row[members] += w / len(members)
    return row


def _surface_regressor(verts, tube_mask, target, k=6):
    """A regressor row over the ``k`` surface vertices nearest ``target`` (inverse-distance weights)."""
    idx = np.where(tube_mask)[0]
    d = np.linalg.norm(verts[idx] - target, axis=1)
    nearest = np.argsort(d)[:k]
    w = 1.0 / (d[nearest] + 1e-3)
    row = np.zeros(len(verts))
    row[idx[nearest]] = w / w.sum()
    return row


# Joint targets in the mean shape: (tube, x, y, z) with "ring" = axis centre.
_SMPL_JOINT_TARGETS = {
    "pelvis": ("torso", 0.0, -0.22, 0.0), "left_hip": ("legs", 0.085, -0.25, 0.0),
    "spine1": ("torso", 0.0, -0.10, 0.0), "left_knee": ("legs", 0.11, -0.65, 0.015),
    "spine2": ("torso", 0.0, 0.03, 0.0), "left_ankle": ("legs", 0.09, -1.06, -0.02),
    "spine3": ("torso", 0.0, 0.09, 0.0), "left_foot": ("legs", 0.11, -1.125, 0.11),
    "neck": ("torso", 0.0, 0.29, -0.01), "left_collar": ("arms", 0.08, 0.215, -0.02),
    "head": ("torso", 0.0, 0.40, 0.025), "left_shoulder": ("arms", 0.19, 0.215, -0.02),
    "left_elbow": ("arms", 0.45, 0.205, -0.03), "left_wrist": ("arms", 0.70, 0.205, -0.02),
    "left_hand": ("arms", 0.79, 0.20, -0.02),
}
# cocoplus / LSP targets: ring joints, plus surface points of the face and head top.
_COCOPLUS_TARGETS = (
    ("ring", "legs", -0.09, -1.07, -0.02), ("ring", "legs", -0.11, -0.66, 0.015), ("ring", "legs", -0.10, -0.30, 0.0),
    ("ring", "legs", 0.10, -0.30, 0.0), ("ring", "legs", 0.11, -0.66, 0.015), ("ring", "legs", 0.09, -1.07, -0.02),
    ("ring", "arms", -0.71, 0.205, -0.02), ("ring", "arms", -0.46, 0.205, -0.03), ("ring", "arms", -0.20, 0.215, -0.02),
    ("ring", "arms", 0.20, 0.215, -0.02), ("ring", "arms", 0.46, 0.205, -0.03), ("ring", "arms", 0.71, 0.205, -0.02),
    ("ring", "torso", 0.0, 0.30, -0.01), ("surface", "torso", 0.0, 0.57, 0.02),
    ("surface", "torso", 0.0, 0.43, 0.14), ("surface", "torso", 0.035, 0.46, 0.12),
    ("surface", "torso", -0.035, 0.46, 0.12), ("surface", "torso", 0.095, 0.44, 0.02),
    ("surface", "torso", -0.095, 0.44, 0.02),
)
# Human3.6M 17 (H36M17_NAMES order).
_H36M_TARGETS = (
    ("ring", "torso", 0.0, -0.24, 0.0), ("ring", "legs", 0.09, -0.27, 0.0), ("ring", "legs", 0.11, -0.66, 0.015),
    ("ring", "legs", 0.09, -1.07, -0.02), ("ring", "legs", -0.09, -0.27, 0.0), ("ring", "legs", -0.11, -0.66, 0.015),
    ("ring", "legs", -0.09, -1.07, -0.02), ("ring", "torso", 0.0, 0.0, 0.0), ("ring", "torso", 0.0, 0.24, -0.01),
    ("surface", "torso", 0.0, 0.40, 0.14), ("ring", "torso", 0.0, 0.48, 0.02), ("ring", "arms", 0.19, 0.215, -0.02),
    ("ring", "arms", 0.46, 0.205, -0.03), ("ring", "arms", 0.71, 0.205, -0.02), ("ring", "arms", -0.19, 0.215, -0.02),
    ("ring", "arms", -0.46, 0.205, -0.03), ("ring", "arms", -0.71, 0.205, -0.02),
)
# SPIN's J_regressor_extra rows: right hip, left hip, neck (LSP), head top (LSP), pelvis (MPII), thorax (MPII),
# spine (H36M), jaw (H36M), head (H36M): the synthetic body's matching cocoplus and H36M targets
_EXTRA_TARGETS = tuple(_COCOPLUS_TARGETS[i] for i in (2, 3, 12, 13)) + tuple(_H36M_TARGETS[i] for i in (0, 8, 7, 9, 10))
_TUBE_INDEX = {"torso": 0, "arms": 1, "legs": 2}


def _smpl_joint_target(name):
    if name.startswith("right_"):
        tube, x, y, z = _SMPL_JOINT_TARGETS["left_" + name[len("right_"):]]
        return tube, -x, y, z
    return _SMPL_JOINT_TARGETS[name]


def _regressor(rows, verts, centres, tube_id):
    out = []
    for kind, tube, x, y, z in rows:
        mask = tube_id == _TUBE_INDEX[tube]
        target = np.array([x, y, z])
        out.append(_ring_regressor(verts, centres, mask, target) if kind == "ring"
                   else _surface_regressor(verts, mask, target))
    return np.stack(out)


def _segment_distance(points, a, b):
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(ab @ ab, 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def _skinning_weights(verts, tube_id, joints):
    """Smooth weights (V, 24): Gaussian of the distance to each joint's bone, restricted to
    the joints allowed for the vertex's tube, the strongest ``SKIN_KEEP`` kept, rows sum to 1."""
    children = {i: [c for c, p in enumerate(SMPL_PARENTS) if p == i] for i in range(len(SMPL_PARENTS))}
    leaf_extent = {"left_hand": (0.08, 0, 0), "right_hand": (-0.08, 0, 0), "head": (0, 0.12, 0),
                   "left_foot": (0, 0, 0.06), "right_foot": (0, 0, 0.06)}
    dist = np.zeros((len(verts), len(SMPL_JOINT_NAMES)))
    for j, name in enumerate(SMPL_JOINT_NAMES):
        if name in leaf_extent:
            ends = [joints[j] + np.asarray(leaf_extent[name])]
        elif name == "spine3":
            ends = [joints[SMPL_JOINT_NAMES.index("neck")]]
        else:
            ends = [joints[c] for c in children[j]]
        dist[:, j] = np.min([_segment_distance(verts, joints[j], e) for e in ends], axis=0)
    weights = np.exp(-np.square(dist / SKIN_SIGMA))
    for index, tube in enumerate(("torso", "arms", "legs")):
        allowed = np.array([n in TUBE_JOINTS[tube] for n in SMPL_JOINT_NAMES])
        weights[np.ix_(tube_id == index, ~allowed)] = 0.0
    # guarantee a non-zero row: fall back to the nearest allowed bone
    weights += 1e-12 * (dist == dist.min(1, keepdims=True))
    weakest = np.argsort(-weights, axis=1, kind="stable")[:, SKIN_KEEP:]
    np.put_along_axis(weights, weakest, 0.0, axis=1)
    return weights / weights.sum(1, keepdims=True)


def build_body_model(seed=0):
    """Build the synthetic SMPL-format model.

    Args:
        seed: integer; the pose blend shapes are drawn from it (everything else is fixed).
    Returns:
        dict with the official SMPL keys (numpy, dense) plus ``cocoplus_regressor`` (19, V),
        ``J_regressor_h36m`` (17, V), ``J_regressor_extra`` (9, V), ``synthetic`` and ``description``.
    """
    rng = np.random.default_rng(seed)
    verts, faces, centres, normals, tube_id = _build_surface(np.zeros(NUM_BETAS))
    faces = _bridge(faces, verts, centres, tube_id, 0, 1)
    faces = _bridge(faces, verts, centres, tube_id, 0, 2)
    assert len(verts) == NUM_SMPL_VERTICES and len(faces) == NUM_SMPL_FACES, (len(verts), len(faces))

    joint_rows = [("ring",) + _smpl_joint_target(n) for n in SMPL_JOINT_NAMES]
    j_regressor = _regressor(joint_rows, verts, centres, tube_id)
    joints = j_regressor @ verts
    shapedirs = np.zeros((len(verts), 3, NUM_BETAS))
    for k in range(NUM_BETAS):
        beta = np.zeros(NUM_BETAS)
        beta[k] = 1.0
        shapedirs[:, :, k] = _build_surface(beta)[0] - verts
    weights = _skinning_weights(verts, tube_id, joints)

    # pose correctives: smooth bulges along the surface normal around each joint, driven by
    # that joint's 9 rotation-matrix entries
    posedirs = np.zeros((len(verts), 3, 9 * (len(SMPL_PARENTS) - 1)))
    for j in range(1, len(SMPL_PARENTS)):
        region = weights[:, j] * weights[:, SMPL_PARENTS[j]] * 4.0
        coeff = rng.normal(0.0, POSE_BLEND_SCALE, size=9)
        posedirs[:, :, 9 * (j - 1):9 * j] = (region[:, None] * normals)[:, :, None] * coeff[None, None, :]

    kintree = np.zeros((2, len(SMPL_PARENTS)), np.int64)
    kintree[0] = [p if p >= 0 else 4294967295 for p in SMPL_PARENTS]
    kintree[1] = np.arange(len(SMPL_PARENTS))
    return {
        "v_template": verts, "shapedirs": shapedirs, "posedirs": posedirs, "J_regressor": j_regressor,
        "J": joints, "weights": weights, "kintree_table": kintree, "f": faces.astype(np.uint32),
        "cocoplus_regressor": _regressor(_COCOPLUS_TARGETS, verts, centres, tube_id),
        "J_regressor_h36m": _regressor(_H36M_TARGETS, verts, centres, tube_id),
        "J_regressor_extra": _regressor(_EXTRA_TARGETS, verts, centres, tube_id),
        "bs_style": "lbs", "bs_type": "lrotmin", "synthetic": True,
        "description": f"SYNTHETIC SMPL-format body model built by src/data/synthetic (seed {seed}); not SMPL",
    }
