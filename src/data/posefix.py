"""PoseFix-style synthetic errors on a 2D pose (Moon et al., CVPR 2019), as 3DCrowdNet corrupts its training
inputs (``common/utils/posefix.py`` ``synthesize_pose``): per COCO joint one of five outcomes, drawn with
probabilities that depend on the joint and on how many joints are visible - jitter (a ring between the OKS 0.85 and
0.50 distances around the joint), miss (a ring between OKS 0.50 and 0.10 around the joint or around the inverted
or near people's joints), inversion (near the left/right partner), swap (near a near person's same or partner
joint) or good (within the OKS 0.85 distance); every candidate must be closer to its own source than to any other
source. Distances scale with the person's box area through COCO's per-joint OKS sigmas.

Randomness comes from the ``numpy.random.Generator`` passed in, so a sample's corruption is a function of its seed.
"""
import math

import numpy as np

# COCO's OKS sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles) and left/right pairs
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
COCO_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
CANDIDATES = 500


def _partner(j):
    for a, b in COCO_PAIRS:
        if j in (a, b):
            return b if j == a else a
    return None


def _ring(rng, centre, inner, outer, count):
    angle = rng.uniform(0.0, 2.0 * math.pi, count)
    radius = rng.uniform(inner, outer, count)
    return centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle), radius


def _farther(sources, x, y, skip, limit):
    """Mask of the points (x, y) farther than ``limit`` (scalar or per point) from every source but ``skip``."""
    keep = np.ones(len(x), bool)
    for i, source in enumerate(sources):
        if i not in skip:
            keep &= np.hypot(source[0] - x, source[1] - y) > limit
    return keep


def _pick(rng, x, y):
    """One of the points, as (x, y, 1), or None."""
    if len(x) == 0:
        return None
    k = rng.integers(len(x))
    return np.array([x[k], y[k], 1.0])


def _probabilities(j, visible, overlap):
    """(jitter, miss, inversion, swap) probabilities of COCO joint j (posefix.py's tables)."""
    face, upper = j <= 4, 5 <= j <= 10
    if visible <= 10:
        jitter = 0.15 if j == 0 or 13 <= j <= 16 else 0.20 if 1 <= j <= 10 else 0.25
    else:
        jitter = 0.10 if j == 0 or 13 <= j <= 16 else 0.15 if 1 <= j <= 10 else 0.20
    edge = j in (5, 6, 15, 16)
    if visible <= 5:
        miss = 0.15 if face else 0.20 if edge else 0.25
    elif visible <= 10:
        miss = 0.10 if face else 0.13 if edge else 0.15
    else:
        miss = 0.02 if face else 0.05 if edge else 0.10
    inversion = 0.01 if face else 0.03 if upper else 0.06
    crowded = (visible <= 10 and overlap > 0) or (visible <= 15 and overlap >= 3)
    if crowded:
        swap = 0.02 if face else 0.15 if upper else 0.10
    else:
        swap = 0.01 if face else 0.06 if upper else 0.03
    return jitter, miss, inversion, swap


def synthesize_pose(joints, near_joints, area, num_overlap, rng):
    """Corrupt a COCO-17 pose.

    Args:
        joints: (17, 3) x, y (pixels) and validity (> 0 = labelled).
        near_joints: (P, 17, 3) the near people's joints (P may be 0).
        area: the person's box area in the same pixels (``sqrt(w^2) sqrt(h^2)`` of its corners, as PoseFix).
        num_overlap: how many people overlap the person.
        rng: ``numpy.random.Generator``.
    Returns:
        (17, 3): each joint's corrupted (x, y, 1), or zeros where no outcome was possible.
    """
    joints = np.asarray(joints, np.float64)
    near_joints = np.asarray(near_joints, np.float64).reshape(-1, 17, 3)
    variances = (COCO_SIGMAS * 2) ** 2
    ks = {level: np.sqrt(-2 * area * variances * np.log(level)) for level in (0.10, 0.50, 0.85)}
    out = joints.copy()
    visible = int(np.sum(joints[:, 2] > 0))
    for j in range(17):
        partner = _partner(j)
        own = [joints[j, :2]]
        swaps = list(near_joints[near_joints[:, j, 2] > 0, j, :2])
        inverted = [joints[partner, :2]] if partner is not None and joints[partner, 2] > 0 else []
        swap_inverted = list(near_joints[near_joints[:, partner, 2] > 0, partner, :2]) if partner is not None else []
        sources = own + swaps + inverted + swap_inverted
        inv_index = 1 + len(swaps)
        jitter_p, miss_p, inv_p, swap_p = _probabilities(j, visible, num_overlap)

        x, y, r = _ring(rng, sources[0], ks[0.85][j], ks[0.50][j], CANDIDATES)
        jitter = _pick(rng, *(a[_farther(sources, x, y, {0}, r)] for a in (x, y)))

        miss_points = []
        for m, source in enumerate(sources):
            x, y, _ = _ring(rng, source, ks[0.50][j], ks[0.10][j], 4 * CANDIDATES)
            keep = _farther(sources, x, y, {m}, ks[0.50][j])
            x, y = x[keep], y[keep]
            if len(x) and m > 0:
                chosen = rng.choice(len(x), size=len(x) // 4)
                x, y = x[chosen], y[chosen]
            if len(x):
                miss_points.append(np.stack([x, y], 1))
        miss = None
        if miss_points:
            points = np.concatenate(miss_points)
            miss = np.array([*points[rng.integers(len(points))], 1.0])

        inversion = None
        if inverted:
            x, y, r = _ring(rng, sources[inv_index], 0.0, ks[0.50][j], CANDIDATES)
            inversion = _pick(rng, *(a[_farther(sources, x, y, {inv_index}, r)] for a in (x, y)))

        swap = None
        if swaps or swap_inverted:
            swap_points = []
            # the original skips source 0 and position 1 + len(swaps) whether or not an inverted joint sits there
            # (without one, that is the first near person's partner joint)
            others = [0, inv_index]
            for s in range(len(sources)):
                if s in others:
                    continue
                x, y, r = _ring(rng, sources[s], 0.0, ks[0.50][j], CANDIDATES)
                keep = np.ones(len(x), bool)
                for o in others[:1] + [i for i in others[1:] if i < len(sources)]:
                    keep &= np.hypot(sources[o][0] - x, sources[o][1] - y) > r
                if keep.any():
                    swap_points.append(np.stack([x[keep], y[keep]], 1))
            if swap_points:
                points = np.concatenate(swap_points)
                swap = np.array([*points[rng.integers(len(points))], 1.0])

        x, y, r = _ring(rng, sources[0], 0.0, ks[0.85][j], CANDIDATES // 4)
        good = _pick(rng, *(a[_farther(sources, x, y, {0}, r)] for a in (x, y)))

        outcomes = (jitter, miss, inversion, swap, good)
        weights = np.array([jitter_p, miss_p, inv_p, swap_p, 1.0 - (jitter_p + miss_p + inv_p + swap_p)])
        weights = weights * np.array([o is not None for o in outcomes])
        if weights.sum() == 0:
            out[j] = 0.0
            continue
        out[j] = outcomes[rng.choice(5, p=weights / weights.sum())]
    return out.astype(np.float32)
