"""The embedded default datasets: rendered images of the synthetic body in the real schema.

``write_synthetic_datasets(data_path, ...)`` writes under ``data_path/synthetic/``:

- ``synthetic_3d_train.npz``: images with 2D keypoints, 3D joints, SMPL pose and shape
  (like Human3.6M in SPIN's files);
- ``synthetic_2d_train.npz``: images with 2D keypoints only (like LSP/COCO);
- ``synthetic_eval.npz``: held-out images with full ground truth;
- ``synthetic_frames_train.npz`` / ``synthetic_frames_eval.npz``: full frames (``FRAME_SHAPE``)
  from a wide-angle camera, people anywhere in the frame, some cut by its edges: where a crop
  lies in its image matters here (CLIFF's bbox_info and full-image camera);
- ``synthetic_seq_train.npz`` / ``synthetic_seq_eval.npz``: video sequences of
  ``SEQUENCE_LENGTH`` full frames, one body moving smoothly (``src/data/synthetic/motion.py``),
  rows in time order, labelled ``sequence`` (name) and ``frame`` (index in it);

every split records its camera's ``focal_length`` and, like SPIN's files, no ``orig_shape``;
- ``mocap.npz``: poses and shapes for the discriminator (like MoSh data);
- ``images/*.jpg``, and ``neutral_smpl_mean_params.h5`` at ``data_path`` (HMR's mean
  parameters of the sampled pose distribution).

Each sample: random shape, a random pose within joint limits, a random body orientation
(yaw within +-90 degrees, small lean) and distance, a cluttered random background, a
perspective camera and a random light direction (mirror-symmetric, so that horizontal
flips stay within the data's distribution; with one fixed light, flipped images contradict
the shading and training learned next to nothing). Keypoints are marked invisible when
outside the image or hidden behind another body part. Everything is deterministic from
the seed.
"""
import logging
import multiprocessing
import os

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from HMR.constants import J24_FROM_H36M17, J24_TO_COCOPLUS19, NUM_BETAS
from model_utils.atomic_files import atomic_write, read_json, write_json

logger = logging.getLogger(__name__)

FORMAT_VERSION = 5
IMAGE_SIZE = 256          # rendered frame of the centred splits, pixels
FOCAL_LENGTH = 500.0      # pixels
DEPTH_RANGE = (4.5, 6.5)  # metres from the camera
FRAME_SHAPE = (240, 320)  # (height, width) of the full-frame splits, pixels
FRAME_FOCAL = 220.0       # pixels: 72 degrees across the frame's width
FRAME_DEPTH_RANGE = (2.5, 5.0)
YAW_RANGE = np.pi / 2     # body turned up to +-90 degrees from facing the camera
LEAN = 0.15               # radians of pitch/roll jitter
TWO_PERSON_LATERAL = (0.3, 0.55)    # metres: the second person's sideways offset in the two-person split
TWO_PERSON_DEPTH = (-0.3, 0.6)      # metres: its depth offset (negative = in front)
FRAME_SPLITS = ("frames_train", "frames_eval")
SEQUENCE_SPLITS = ("seq_train", "seq_eval")        # sizes in sequences of SEQUENCE_LENGTH frames
SEQUENCE_LENGTH = 48
OCCLUSION_MARGIN = 0.12   # metres: a keypoint is hidden if a surface lies this much in front of it
BOX_MARGIN = 1.2          # SPIN: scale = 1.2 * box side / 200
POSE_SPREAD = 0.8         # fraction of the joint-limit ranges used
LIGHT_AZIMUTH = np.deg2rad(70)    # light from the camera side, up to 70 degrees left or right,
LIGHT_ELEVATION = np.deg2rad(50)  # and up to 50 degrees above or below: mirror-symmetric, so a
                                  # flipped image is as likely as the original


def _background(rng, shape):
    """A cluttered random RGB background (gradient, shapes, noise) of (height, width)."""
    height, width = shape
    size = min(shape)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    image = (c0 * (1 - ramp) + c1 * ramp) * np.ones((height, width, 3))
    image = image.astype(np.uint8)
    for _ in range(rng.integers(3, 9)):
        colour = rng.uniform(0, 255, 3).tolist()
        x, y = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(size // 16, size // 3, 2)
        if rng.random() < 0.5:
            cv2.rectangle(image, (int(x), int(y)), (int(x + w), int(y + h)), colour, -1)
        else:
            cv2.circle(image, (int(x), int(y)), int(w // 2), colour, -1)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _render_sample(job):
    """Worker: render one sample and write its image. Returns the J24 visibility (24,)."""
    from src.render.rasterizer import project_points, render_mesh
    path, vertices, faces, joints24, seed, camera = job
    shape, focal, principal = camera
    rng = np.random.default_rng(seed)
    image = _background(rng, shape)
    face_ids = np.full(shape, -1, np.int32)
    colour = rng.uniform([150, 100, 80], [240, 200, 170])
    azimuth, elevation = rng.uniform(-LIGHT_AZIMUTH, LIGHT_AZIMUTH), rng.uniform(-LIGHT_ELEVATION, LIGHT_ELEVATION)
    light = [np.sin(azimuth) * np.cos(elevation), -np.sin(elevation), -np.cos(azimuth) * np.cos(elevation)]
    render_mesh(image, vertices, faces, focal, principal, colour.tolist(), face_ids=face_ids,
                light_direction=light)
    pix = project_points(joints24, focal, principal)
    face_depth = vertices[faces].mean(1)[:, 2]
    visible = np.zeros(len(joints24), np.float32)
    for j, (x, y) in enumerate(pix):
        xi, yi = int(round(x)), int(round(y))
        if 0 <= xi < shape[1] and 0 <= yi < shape[0]:
            face = face_ids[yi, xi]
            visible[j] = float(face < 0 or face_depth[face] > joints24[j, 2] - OCCLUSION_MARGIN)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise OSError(f"could not encode {path}")
    with atomic_write(path) as handle:
        handle.write(encoded.tobytes())
    return visible


def _root_orientations(rng, num):
    """Camera-frame root rotations: turn pi about x (SMPL y-up -> camera y-down), yaw, lean."""
    yaw = rng.uniform(-YAW_RANGE, YAW_RANGE, num)
    pitch, roll = rng.uniform(-LEAN, LEAN, (2, num))
    body = Rotation.from_euler("yxz", np.stack([yaw, pitch, roll], 1))
    return (Rotation.from_rotvec([np.pi, 0.0, 0.0]) * body).as_rotvec().astype(np.float32)


def _pose_bodies(smpl, betas, poses, batch=64):
    """Vertices (N, V, 3) and J24 joints (N, 24, 3) of posed bodies (no translation)."""
    import mindspore as ms
    verts, j24_all = [], []
    for start in range(0, len(betas), batch):
        v, _ = smpl(ms.Tensor(betas[start:start + batch]), ms.Tensor(poses[start:start + batch]))
        coco = smpl.regress(v, "cocoplus").asnumpy()
        h36m = smpl.regress(v, "h36m").asnumpy()
        joints = np.zeros((len(coco), 24, 3), np.float32)
        joints[:, list(J24_TO_COCOPLUS19)] = coco
        for j24, h in J24_FROM_H36M17.items():
            joints[:, j24] = h36m[:, h]
        verts.append(v.asnumpy())
        j24_all.append(joints)
    return np.concatenate(verts), np.concatenate(j24_all)


def _placement(rng, num, full_frame):
    """Where the bodies' box centres go: (pixels (num, 2), depths (num,)), and the camera
    ``(shape, focal, principal)``. Centred splits: the frame centre shifted by up to 10%;
    full frames: anywhere in the frame (a box centre near an edge leaves part of the body out)."""
    if full_frame:
        shape, focal = FRAME_SHAPE, FRAME_FOCAL
        principal = ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0)
        pixels = rng.uniform([0.0, 0.0], [shape[1] - 1.0, shape[0] - 1.0], (num, 2))
        depth = rng.uniform(*FRAME_DEPTH_RANGE, num)
    else:
        shape, focal = (IMAGE_SIZE, IMAGE_SIZE), FOCAL_LENGTH
        principal = (IMAGE_SIZE / 2, IMAGE_SIZE / 2)
        depth = rng.uniform(*DEPTH_RANGE, num)          # (drawn first: the centred splits predate this function)
        pixels = np.asarray(principal) + rng.uniform(-0.1, 0.1, (num, 2)) * IMAGE_SIZE
    return pixels, depth, (shape, focal, principal)


def _make_split(smpl, folder, split, num, rng, pool, with_3d, full_frame=False):
    from src.data.synthetic.poses import sample_betas, sample_body_poses
    betas = sample_betas(rng, num)
    poses = sample_body_poses(rng, num, spread=POSE_SPREAD)
    poses[:, :3] = _root_orientations(rng, num)
    pixels, depth, camera = _placement(rng, num, full_frame)
    return _write_split(smpl, folder, split, betas, poses, pixels, depth, camera, rng, pool, with_3d)


def _make_two_person_split(smpl, folder, split, num, rng, pool):
    """A centred split whose images each hold a second person beside the labelled one, overlapping it: at the
    labelled person's depth -0.3..+0.6 m, 0.3..0.55 m to its left or right, any pose; labels (2D, 3D, SMPL, box) are
    the first person's, its keypoints hidden where the other person covers them."""
    from src.data.synthetic.poses import sample_betas, sample_body_poses
    betas, other_betas = sample_betas(rng, num), sample_betas(rng, num)
    poses, other_poses = (sample_body_poses(rng, num, spread=POSE_SPREAD) for _ in range(2))
    poses[:, :3], other_poses[:, :3] = _root_orientations(rng, num), _root_orientations(rng, num)
    pixels, depth, camera = _placement(rng, num, False)
    side = np.where(rng.random(num) < 0.5, -1.0, 1.0)
    offset = np.stack([side * rng.uniform(TWO_PERSON_LATERAL[0], TWO_PERSON_LATERAL[1], num),
                       rng.uniform(-0.1, 0.1, num), rng.uniform(*TWO_PERSON_DEPTH, num)], 1)
    others, _ = _pose_bodies(smpl, other_betas, other_poses)
    return _write_split(smpl, folder, split, betas, poses, pixels, depth, camera, rng, pool, True,
                        others=(others, offset))


def _make_sequences(smpl, folder, split, num_sequences, length, rng, pool):
    """``num_sequences`` sequences of ``length`` full frames (:mod:`src.data.synthetic.motion`),
    rows in time order per sequence, labelled ``sequence`` and ``frame``."""
    from src.data.synthetic.motion import MOTION_KINDS, sequence_motion
    from src.data.synthetic.poses import sample_betas
    shape = FRAME_SHAPE
    camera = (shape, FRAME_FOCAL, ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0))
    parts = {key: [] for key in ("betas", "poses", "pixels", "depth")}
    for number in range(num_sequences):
        motion = sequence_motion(rng, length, MOTION_KINDS[number % len(MOTION_KINDS)], shape, FRAME_DEPTH_RANGE)
        body = Rotation.from_euler("yxz", np.stack([motion["yaw"], motion["pitch"], motion["roll"]], 1))
        poses = motion["pose"].copy()
        poses[:, :3] = (Rotation.from_rotvec([np.pi, 0.0, 0.0]) * body).as_rotvec()
        parts["betas"].append(np.repeat(sample_betas(rng, 1), length, 0))
        parts["poses"].append(poses)
        parts["pixels"].append(motion["pixels"])
        parts["depth"].append(motion["depth"])
    arrays = {key: np.concatenate(value).astype(np.float32) for key, value in parts.items()}
    labels = {"sequence": np.repeat([f"{split}_{n:03d}" for n in range(num_sequences)], length),
              "frame": np.tile(np.arange(length, dtype=np.int32), num_sequences)}
    # one background, body colour and light per sequence: a static camera filming one person
    seeds = np.repeat(rng.integers(0, 2 ** 31, num_sequences), length)
    return _write_split(smpl, folder, split, arrays["betas"], arrays["poses"], arrays["pixels"], arrays["depth"],
                        camera, rng, pool, True, labels, seeds)


def _write_split(smpl, folder, split, betas, poses, pixels, depth, camera, rng, pool, with_3d, labels=None,
                 seeds=None, others=None):
    """Pose, place, render and label bodies: ``betas`` (N, 10), ``poses`` (N, 72) camera-frame
    axis-angle, the box centres ``pixels`` (N, 2) at ``depth`` (N,) metres, ``camera`` (shape,
    focal, principal); ``labels``: extra per-sample arrays to store; ``seeds``: (N,) seeds of the
    background, colour and light of each image (default: drawn from ``rng``, one per image);
    ``others``: (vertices (N, V, 3) of an unlabelled second person posed without translation, the offset (N, 3)
    m of its bounding box's middle from the labelled person's), rendered into the same images.
    Returns the npz path."""
    num = len(betas)
    vertices, joints = _pose_bodies(smpl, betas, poses)
    shape, focal, principal = camera
    # the middle of the body's bounding box goes to depth ``depth`` on the ray through ``pixels``
    mid = (vertices.max(1) + vertices.min(1)) / 2
    ray = (pixels - np.asarray(principal)) / focal
    trans = np.concatenate([ray * depth[:, None] - mid[:, :2], depth[:, None] - mid[:, 2:3]], 1).astype(np.float32)
    vertices = vertices + trans[:, None]
    joints = joints + trans[:, None]
    names = [os.path.join("images", f"{split}_{i:05d}.jpg") for i in range(num)]
    seeds = rng.integers(0, 2 ** 31, num) if seeds is None else seeds
    faces = smpl.faces
    if others is not None:
        other_vertices, offset = others
        other_mid = (other_vertices.max(1) + other_vertices.min(1)) / 2
        placed = other_vertices - other_mid[:, None] + ((vertices.max(1) + vertices.min(1)) / 2 + offset)[:, None]
        vertices = np.concatenate([vertices, placed.astype(np.float32)], 1)
        faces = np.concatenate([faces, faces + other_vertices.shape[1]])
    jobs = [(os.path.join(folder, n), vertices[i], faces, joints[i], int(seeds[i]), camera)
            for i, n in enumerate(names)]
    visible = np.stack(pool.map(_render_sample, jobs, chunksize=8))
    pix = joints[:, :, :2] / joints[:, :, 2:3] * focal + np.asarray(principal)
    part = np.concatenate([pix, visible[:, :, None]], 2).astype(np.float32)
    # the person box spans every joint, hidden ones included, clipped to the frame
    lo = np.clip(pix.min(1), 0, np.array(shape[::-1]))
    hi = np.clip(pix.max(1), 0, np.array(shape[::-1]))
    center = ((lo + hi) / 2).astype(np.float32)
    scale = (BOX_MARGIN * (hi - lo).max(1) / 200.0).astype(np.float32)
    record = {"imgname": np.asarray(names), "center": center, "scale": scale, "part": part}
    record["focal_length"] = np.full(num, focal, np.float32)         # every split is a frame of a known camera
    if with_3d:
        record.update(S=np.concatenate([joints, np.ones_like(joints[:, :, :1])], 2).astype(np.float32),
                      pose=poses, shape=betas, has_smpl=np.ones(num, np.float32))
    record.update(labels or {})
    path = os.path.join(folder, f"synthetic_{split}.npz")
    with atomic_write(path) as handle:
        np.savez(handle, **record)
    logger.info("synthetic %s: %d samples, %.0f%% keypoints visible -> %s", split, num, 100 * visible.mean(), path)
    return path


def write_mean_params(path, seed):
    """HMR's ``neutral_smpl_mean_params.h5`` for the sampled distribution: ``pose`` (72,), ``shape`` (10,)."""
    import h5py
    from src.data.synthetic.poses import sample_body_poses
    rng = np.random.default_rng(seed)
    mean_pose = sample_body_poses(rng, 20000, spread=POSE_SPREAD).mean(0)
    tmp = path + f".tmp-{os.getpid()}"
    with h5py.File(tmp, "w") as h5:
        h5.create_dataset("pose", data=mean_pose.astype(np.float64))
        h5.create_dataset("shape", data=np.zeros(NUM_BETAS))
    os.replace(tmp, path)
    return path


TWO_PERSON_SPLITS = ("eval_two",)
ALL_SPLITS = ("3d_train", "2d_train", "eval", *FRAME_SPLITS, *SEQUENCE_SPLITS, *TWO_PERSON_SPLITS)
# the order in which the splits' seeds are spawned from the datasets' seed (the order they were added in)
SEED_ORDER = ("3d_train", "2d_train", "eval", "mocap", *FRAME_SPLITS, *SEQUENCE_SPLITS, *TWO_PERSON_SPLITS)
DEFAULT_SIZES = {"3d_train": 1200, "2d_train": 600, "eval": 200, "mocap": 5000, "frames_train": 1200,
                 "frames_eval": 200, "seq_train": 32, "seq_eval": 8, "eval_two": 100}


def _render_split(smpl, folder, split, sizes, rng, pool):
    """Render one split of ``ALL_SPLITS`` with its own generator ``rng``."""
    if split in SEQUENCE_SPLITS:
        _make_sequences(smpl, folder, split, sizes[split], sizes.get("seq_length", SEQUENCE_LENGTH), rng, pool)
    elif split in TWO_PERSON_SPLITS:
        _make_two_person_split(smpl, folder, split, sizes[split], rng, pool)
    else:
        _make_split(smpl, folder, split, sizes[split], rng, pool, split != "2d_train", full_frame=split in FRAME_SPLITS)


def write_synthetic_datasets(data_path, smpl, seed=0, sizes=None, workers=2, splits=ALL_SPLITS):
    """Render the embedded default datasets; a split written before by the same request is kept.

    Args:
        data_path: the HMR_DATA folder; outputs go to ``data_path/synthetic``.
        smpl: :class:`HMR.SMPL` with the ``cocoplus`` and ``h36m`` regressors.
        sizes: dict of sample counts (``DEFAULT_SIZES``): ``3d_train``, ``2d_train``, ``eval``, ``mocap``,
            the full-frame splits ``frames_train``, ``frames_eval``, the sequence splits ``seq_train``,
            ``seq_eval`` (in sequences of ``seq_length`` frames, default ``SEQUENCE_LENGTH``) and the two-person
            split ``eval_two``; a split absent or 0 here is not written.
        splits: which of ``ALL_SPLITS`` to render (the mocap poses and mean parameters always).
    Returns:
        dict of the paths of the requested splits, ``mocap`` and ``mean_params``.

    Each split is drawn from its own child of ``seed`` (``SEED_ORDER``), so a split is the same whichever
    others are rendered with it. ``manifest.json`` records each written split's request (format version,
    seed, size, body model) as soon as the split is on disk: an interrupted run keeps the finished splits.
    """
    sizes = dict(sizes or DEFAULT_SIZES)
    unknown = sorted(set(splits) - set(ALL_SPLITS))
    if unknown:
        raise ValueError(f"unknown synthetic split(s) {unknown}; expected some of {list(ALL_SPLITS)}")
    folder = os.path.join(data_path, "synthetic")
    manifest_path = os.path.join(folder, "manifest.json")
    wanted = [split for split in ALL_SPLITS if split in splits and sizes.get(split)]
    paths = {split: os.path.join(folder, f"synthetic_{split}.npz") for split in wanted}
    paths["mocap"] = os.path.join(folder, "mocap.npz")
    paths["mean_params"] = os.path.join(data_path, "neutral_smpl_mean_params.h5")
    common = {"version": FORMAT_VERSION, "seed": seed, "body_model": os.path.basename(smpl.model_path)}
    requests = {split: {**common, "size": sizes[split], **({"seq_length": sizes.get("seq_length", SEQUENCE_LENGTH)}
                                                           if split in SEQUENCE_SPLITS else {})} for split in wanted}
    requests["mocap"] = {**common, "size": sizes["mocap"]}
    requests["mean_params"] = common
    manifest = read_json(manifest_path) or {}
    written = dict(manifest.get("splits", {})) if manifest.get("synthetic") else {}
    missing = [name for name in requests if written.get(name) != requests[name] or not os.path.isfile(paths[name])]
    if not missing:
        logger.info("synthetic datasets up to date in %s", folder)
        return paths
    os.makedirs(folder, exist_ok=True)
    split_seeds = dict(zip(SEED_ORDER, np.random.SeedSequence(seed).spawn(len(SEED_ORDER))))

    def done(name):
        written[name] = requests[name]
        write_json(manifest_path, {"synthetic": True, "splits": written,
                                   "note": "SYNTHETIC data rendered from the synthetic body model"})

    if "mocap" in missing:
        from src.data.synthetic.poses import sample_betas, sample_body_poses
        rng = np.random.default_rng(split_seeds["mocap"])
        with atomic_write(paths["mocap"]) as handle:
            np.savez(handle, pose=sample_body_poses(rng, sizes["mocap"], spread=POSE_SPREAD),
                     shape=sample_betas(rng, sizes["mocap"]))
        done("mocap")
    if "mean_params" in missing:
        write_mean_params(paths["mean_params"], seed)
        done("mean_params")
    to_render = [split for split in wanted if split in missing]
    if to_render:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for split in to_render:
                _render_split(smpl, folder, split, sizes, np.random.default_rng(split_seeds[split]), pool)
                done(split)
    return paths
