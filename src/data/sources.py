"""Random-access sample sources for ``mindspore.dataset.GeneratorDataset``.

Training samples are a pure function of ``(seed, position)``: position ``p`` is slot
``p % batch_size`` of step ``p // batch_size``; each slot belongs to one dataset by the
configured mixing ratios and takes the next element of that dataset's seeded permutation
stream (a "draw" ``(dataset, stream position)``). Augmentation and dropout noise are seeded
by the draw. Data order and augmentation are therefore identical with any number of
workers, a resumed run continues exactly where it stopped, and ranks of a data-parallel run
read disjoint parts of every stream whose union is exactly what one process with the
ranks' combined batch reads (same samples, same augmentation, same dropout).

An unreadable image is not fatal: the sample comes back with ``valid = 0`` (all its loss
terms masked out), a warning is logged, and the training loop counts it.
"""
import os
from collections import OrderedDict

import numpy as np
from scipy.spatial.transform import Rotation

from HMR.constants import J24_FLIP_PERM, J24_TO_LSP14, SMPL_FLIP_PERM
from model_utils.errors import UserInputError
from src.data.crop import (BOX_UNIT, crop_image, crop_matrix, crop_shape, in_plane_rotation, to_normalized,
                           transform_points)
from src.data.extra_inputs import extra_input_values
from src.data.frame import default_focal_length, make_frame, read_image_sizes
from src.data.images import normalize_image, read_rgb
from src.data.schema import load_dataset_npz, load_mocap_npz

# the train step's data inputs; a source's columns are these, then its architecture's extra inputs
# (``extra_inputs``), then the dropout noise
TRAIN_COLUMNS = ("image", "keypoints", "joints3d", "pose", "betas", "has_smpl", "has_3d", "valid", "mocap_pose",
                 "mocap_betas")
NOISE_COLUMN = "noise"     # per-sample dropout noise (iterations, 2, hidden); last column when enabled
EVAL_COLUMNS = ("image", "joints3d", "pose", "betas", "has_smpl", "has_3d", "valid", "index", "keypoints")
MOCAP_STREAM = 1000   # permutation-stream id of the mocap file (datasets use 0, 1, ...)
NOISE_STREAM = 2000   # seed-sequence tag of the dropout noise
INPUT_STREAM = 3000   # seed-sequence tag of an extra input's corruption (3DCrowdNet's 2D pose)


def flip_pose(pose):
    """Mirror an SMPL axis-angle pose (72,): swap left/right joints, negate y and z."""
    flipped = pose.reshape(24, 3)[list(SMPL_FLIP_PERM)].copy()
    flipped[:, 1:] *= -1.0
    return flipped.reshape(72)


class _Dataset:
    """One npz dataset with its image root; ``with_frames``: know every image's size (for the extra
    inputs, which describe where the crop lies in its image)."""

    def __init__(self, path, image_root="", need_keypoints=True, with_frames=False):
        self.path = path
        self.data = load_dataset_npz(path, need_keypoints)
        self.image_root = image_root or os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(self.image_root):
            raise UserInputError(f"{path}: image folder not found: {self.image_root} "
                                 "(set train_image_roots / eval_image_root to the dataset's image folder)")
        self.size = len(self.data["imgname"])
        if self.size == 0:
            raise ValueError(f"{path}: dataset holds no samples")
        self.image_sizes = None
        if with_frames:        # read here, in the main process, not once per data worker
            self.image_sizes = self.data.get("orig_shape")
            if self.image_sizes is None:
                self.image_sizes = read_image_sizes(path, self.data["imgname"], self.image_root)

    def image_path(self, index):
        return os.path.join(self.image_root, self.data["imgname"][index])

    def frame(self, index, center, side, flip):
        """The frame (6,) (``src.data.frame``) of a crop of ``index`` with this box (needs ``with_frames``).

        A flipped crop is the crop of the mirrored image, whose box centre is mirrored too;
        an image of unknown size (unreadable) is taken to be the box itself.
        """
        height, width = (float(v) for v in self.image_sizes[index])
        if height <= 0 or width <= 0:
            height = width = side
        focal = self.data["focal_length"][index] if "focal_length" in self.data else default_focal_length(height, width)
        x = width - 1.0 - center[0] if flip else center[0]
        return make_frame((x, center[1]), side, (height, width), focal)


NO_AUGMENTATION = {"scale": 1.0, "rotation": 0.0, "flip": False, "translation": np.zeros(2),
                   "colour": np.ones(3, np.float32)}


def sample_arrays(dataset, index, image_size, normalization, keypoint_indices, aug=None, extra_inputs=(),
                  input_seed=None):
    """Crop, augment and normalise one sample.

    ``image_size``: the crop, S or (H, W) pixels. ``aug``: None or dict with ``scale``
    (box-side factor), ``rotation`` (degrees), ``flip`` (bool), ``translation`` ((2,) centre
    shift in box sides) and ``colour`` ((3,) gains). ``extra_inputs``: names of the extra graph
    inputs to add (``src/data/extra_inputs.py``), made from the augmented box's frame; a rotation
    turns the image about the box centre, which leaves the frame unchanged. ``input_seed``: the seed of any
    corruption of an extra input made from the sample's keypoints (3DCrowdNet's 2D pose), or None.
    """
    d = dataset.data
    aug = aug or NO_AUGMENTATION
    image = read_rgb(dataset.image_path(index))
    valid = image is not None
    center = d["center"][index] + np.asarray(aug["translation"]) * d["scale"][index] * BOX_UNIT
    scale = d["scale"][index] * aug["scale"]
    matrix = crop_matrix(center, scale, image_size, aug["rotation"], aug["flip"])
    if valid:
        crop = crop_image(image, matrix, image_size).astype(np.float32) * aug["colour"]
        crop = np.clip(crop, 0, 255)
    else:
        crop = np.zeros(crop_shape(image_size) + (3,), np.float32)
    part = d["part"][index].copy()
    part[:, :2] = to_normalized(transform_points(part[:, :2], matrix), image_size)
    joints = d["S"][index].copy()
    pose = d["pose"][index].copy()
    if aug["rotation"] != 0.0:
        rot = in_plane_rotation(aug["rotation"])
        joints[:, :3] = joints[:, :3] @ rot.T
        pose[:3] = (Rotation.from_matrix(rot) * Rotation.from_rotvec(pose[:3].astype(np.float64))).as_rotvec()
    if aug["flip"]:
        part = part[list(J24_FLIP_PERM)]
        joints = joints[list(J24_FLIP_PERM)]
        joints[:, 0] *= -1.0
        pose = flip_pose(pose)
    image_array = normalize_image(crop, normalization)
    has_3d = float(joints[list(J24_TO_LSP14), 3].sum() > 0)
    extra = {}
    if extra_inputs:
        frame = dataset.frame(index, center, scale * BOX_UNIT, aug["flip"])
        extra = dict(zip(extra_inputs, extra_input_values(extra_inputs, frame,
                                                          {"keypoints": part, "seed": input_seed})))
    return extra | {
        "image": image_array,
        "keypoints": part[list(keypoint_indices)].astype(np.float32),
        "joints3d": joints[list(J24_TO_LSP14)].astype(np.float32),
        "pose": pose.astype(np.float32),
        "betas": d["shape"][index].astype(np.float32),
        "has_smpl": np.float32(d["has_smpl"][index]),
        "has_3d": np.float32(has_3d),
        "valid": np.float32(valid),
    }


class TrainSource:
    """Mixed, augmented training samples (see the module docstring).

    Args:
        dataset_paths: npz files; ratios: their share of every batch (normalised).
        image_roots: image folder per dataset ('' = the npz's folder); None = all ''.
        image_size: the crop, S or (H, W) pixels.
        extra_inputs: names of the architecture's extra graph inputs (``src/data/extra_inputs.py``),
            columns after ``TRAIN_COLUMNS`` (they need every image's size).
        mocap_path: npz with ``pose``/``shape`` for the discriminator.
        batch_size: per-rank batch; num_steps: length of the position space.
        keypoint_indices: J24 indices of the model's keypoint set.
        augment: dict with ``flip_prob``, ``scale_jitter``, ``rotation_jitter`` (deg),
            ``rotation_prob``, ``translation_jitter``, ``colour_jitter``; None disables augmentation.
        noise_shape: (iterations, 2, hidden) of the regressor's dropout noise, added as the
            last column (``NOISE_COLUMN``); None = no noise column.
        mocap_per_sample: mocap samples per row (the regressor's iterations: the discriminator
            sees every iteration's fakes against as many real samples).
    """

    def __init__(self, dataset_paths, ratios, mocap_path, batch_size, num_steps, image_size, normalization,
                 keypoint_indices, seed=0, augment=None, rank=0, world_size=1, image_roots=None, noise_shape=None,
                 mocap_per_sample=1, extra_inputs=()):
        if len(dataset_paths) != len(ratios) or not dataset_paths:
            raise UserInputError(f"--train_dataset_ratios needs one ratio per training dataset, got "
                                 f"{len(dataset_paths)} files, {len(ratios)} ratios")
        image_roots = list(image_roots or [""] * len(dataset_paths))
        if len(image_roots) != len(dataset_paths):
            raise UserInputError(f"--train_image_roots needs one image root per training dataset, got "
                                 f"{len(dataset_paths)} files, {len(image_roots)} roots")
        self.extra_inputs = tuple(extra_inputs)
        self.datasets = [_Dataset(p, r, with_frames=bool(extra_inputs)) for p, r in zip(dataset_paths, image_roots)]
        self.mocap = load_mocap_npz(mocap_path)
        self.counts = self._slot_counts(ratios, batch_size)
        self.slot_dataset = np.repeat(np.arange(len(self.counts)), self.counts)
        self.slot_offset = np.concatenate([np.arange(c) for c in self.counts])
        self.batch_size, self.num_steps = batch_size, num_steps
        self.image_size, self.normalization = image_size, normalization
        self.keypoint_indices = tuple(keypoint_indices)
        self.seed, self.augment = seed, augment
        self.rank, self.world_size = rank, world_size
        self.noise_shape = tuple(noise_shape) if noise_shape else None
        self.mocap_per_sample = int(mocap_per_sample)
        self.columns = TRAIN_COLUMNS + self.extra_inputs + ((NOISE_COLUMN,) if self.noise_shape else ())
        self._perm_cache = OrderedDict()

    @staticmethod
    def _slot_counts(ratios, batch_size):
        """Samples per dataset in every batch: largest remainder rounding of the ratios."""
        ratios = np.asarray(ratios, np.float64)
        if np.any(ratios < 0) or ratios.sum() <= 0:
            raise UserInputError(f"--train_dataset_ratios must be >= 0 with a positive sum, got {list(ratios)}")
        exact = ratios / ratios.sum() * batch_size
        counts = np.floor(exact).astype(int)
        counts[np.argsort(-(exact - counts))[: batch_size - counts.sum()]] += 1
        return counts

    def __len__(self):
        return self.num_steps * self.batch_size

    def _stream_index(self, stream, size, position):
        """Element ``position`` of an endless sequence of seeded permutations of range(size)."""
        cycle, offset = divmod(int(position), size)
        key = (stream, cycle)
        if key not in self._perm_cache:
            self._perm_cache[key] = np.random.default_rng([self.seed, stream, cycle]).permutation(size)
            if len(self._perm_cache) > 16:
                self._perm_cache.popitem(last=False)
        return int(self._perm_cache[key][offset])

    def draw(self, position):
        """(dataset number, stream position, sample index) of a training position."""
        step, slot = divmod(int(position), self.batch_size)
        d = int(self.slot_dataset[slot])
        stream_position = (step * self.world_size + self.rank) * int(self.counts[d]) + int(self.slot_offset[slot])
        return d, stream_position, self._stream_index(d, self.datasets[d].size, stream_position)

    def locate(self, position):
        """(dataset number, sample index) of a training position."""
        d, _, index = self.draw(position)
        return d, index

    def _augmentation(self, rng):
        a = self.augment
        if not a:
            return None
        return {
            "scale": float(np.clip(1.0 + rng.normal() * a["scale_jitter"], 1 - a["scale_jitter"], 1 + a["scale_jitter"])),
            "rotation": float(np.clip(rng.normal() * a["rotation_jitter"], -2 * a["rotation_jitter"], 2 * a["rotation_jitter"]))
            if rng.random() < a["rotation_prob"] else 0.0,
            "flip": bool(rng.random() < a["flip_prob"]),
            "translation": np.clip(rng.normal(size=2) * a["translation_jitter"], -2 * a["translation_jitter"],
                                   2 * a["translation_jitter"]),
            "colour": rng.uniform(1 - a["colour_jitter"], 1 + a["colour_jitter"], 3).astype(np.float32),
        }

    def __getitem__(self, position):
        d, stream_position, index = self.draw(position)
        rng = np.random.default_rng([self.seed, d, stream_position])
        sample = sample_arrays(self.datasets[d], index, self.image_size, self.normalization,
                               self.keypoint_indices, self._augmentation(rng), self.extra_inputs,
                               [self.seed, INPUT_STREAM, d, stream_position])
        step, slot = divmod(int(position), self.batch_size)
        first = ((step * self.world_size + self.rank) * self.batch_size + slot) * self.mocap_per_sample
        m = [self._stream_index(MOCAP_STREAM, len(self.mocap["pose"]), first + k) for k in range(self.mocap_per_sample)]
        sample["mocap_pose"] = self.mocap["pose"][m]        # (mocap_per_sample, 72)
        sample["mocap_betas"] = self.mocap["shape"][m]
        if self.noise_shape:
            sample[NOISE_COLUMN] = np.random.default_rng([self.seed, NOISE_STREAM, d, stream_position]).random(
                self.noise_shape, dtype=np.float32)
        return tuple(sample[c] for c in self.columns)


class EvalSource:
    """Deterministic evaluation samples of one dataset: fixed crop, no augmentation, in file order.
    Columns: ``EVAL_COLUMNS`` then the architecture's ``extra_inputs``; ``input_seed``: corrupt extra inputs made
    from the keypoints as training does, sample i with the seed ``[input_seed, i]`` (None: as labelled)."""

    def __init__(self, dataset_path, image_size, normalization, keypoint_indices, image_root="", extra_inputs=(),
                 input_seed=None):
        self.dataset = _Dataset(dataset_path, image_root, need_keypoints=False, with_frames=bool(extra_inputs))
        self.image_size, self.normalization = image_size, normalization
        self.keypoint_indices = tuple(keypoint_indices)
        self.extra_inputs = tuple(extra_inputs)
        self.columns = EVAL_COLUMNS + self.extra_inputs
        self.input_seed = input_seed

    def __len__(self):
        return self.dataset.size

    def __getitem__(self, index):
        seed = None if self.input_seed is None else [self.input_seed, INPUT_STREAM, int(index)]
        sample = sample_arrays(self.dataset, int(index), self.image_size, self.normalization, self.keypoint_indices,
                               extra_inputs=self.extra_inputs, input_seed=seed)
        sample["index"] = np.int32(index)
        return tuple(sample[c] for c in self.columns)
