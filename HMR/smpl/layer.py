"""SMPL body model: file loaders and the SMPL Cell.

Readable files: the official SMPL pickle (plain, or with chumpy objects and old
``scipy.sparse.csc`` module paths, loaded without importing chumpy), HMR's
``neutral_smpl_with_cocoplus_reg.pkl`` (its ``cocoplus_regressor`` is kept) and an
``.npz`` with the same keys. The model's arrays become constant Tensors: they are not
trainable and never go into checkpoints.
"""
import io
import logging
import os
import pickle

import numpy as np
import scipy.sparse
from mindspore import Tensor, jit, nn, ops

from HMR.constants import NUM_BETAS, SMPL_TO_LSP14
from HMR.geometry import batch_rodrigues
from HMR.smpl.lbs import kinematic_levels, lbs, prepare_lbs_constants, take

logger = logging.getLogger(__name__)

REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
OPTIONAL_REGRESSORS = ("cocoplus_regressor",)


class SMPLModelError(ValueError):
    """A body-model or regressor file is missing, unreadable or not in SMPL format."""

    user_facing = True          # the entry points report it as one line


class _ChumpyStandIn:
    """Takes the place of any ``chumpy`` class while unpickling; keeps the pickled state."""

    def __init__(self, *args, **kwargs):
        self.state = {"args": args}

    def __setstate__(self, state):
        self.state = state


class _SparseStandIn:
    """Takes the place of a pickled scipy.sparse matrix (old or new module path); rebuilt
    after unpickling from its ``data``/``indices``/``indptr``/``_shape`` state."""

    fmt = "csc"

    def __init__(self, *args, **kwargs):
        self.state = {}

    def __setstate__(self, state):
        self.state = state


class _SMPLUnpickler(pickle.Unpickler):
    """Unpickler for Python-2 SMPL pickles that never imports chumpy."""

    def find_class(self, module, name):
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyStandIn
        if module.startswith("scipy.sparse") and name[:3] in ("csc", "csr", "coo"):
            return type(name, (_SparseStandIn,), {"fmt": name[:3]})
        return super().find_class(module, name)


def _plain_array(value, key, path):
    """Turn a loaded value (ndarray, chumpy stand-in, sparse matrix) into a dense ndarray."""
    if isinstance(value, _ChumpyStandIn):
        if not isinstance(value.state, dict) or "x" not in value.state:
            raise SMPLModelError(f"{path}: key '{key}' is a chumpy expression without a stored value 'x'")
        value = value.state["x"]
        return _plain_array(value, key, path)
    if isinstance(value, _SparseStandIn):
        state = value.state
        try:
            shape = state.get("_shape", state.get("shape"))
            fmt = value.fmt
            if fmt == "coo":
                value = scipy.sparse.coo_matrix((state["data"], (state["row"], state["col"])), shape=shape)
            else:
                cls = scipy.sparse.csr_matrix if fmt == "csr" else scipy.sparse.csc_matrix
                value = cls((state["data"], state["indices"], state["indptr"]), shape=shape)
        except (KeyError, TypeError, ValueError) as err:
            raise SMPLModelError(f"{path}: key '{key}' holds a sparse matrix that cannot be rebuilt ({err})") from err
    if scipy.sparse.issparse(value):
        return np.asarray(value.toarray())
    try:
        array = np.asarray(value)
    except Exception as err:  # objects numpy cannot turn into an array
        raise SMPLModelError(f"{path}: key '{key}' is not an array ({type(value).__name__})") from err
    if array.dtype == object:
        raise SMPLModelError(f"{path}: key '{key}' is not a numeric array ({type(value).__name__})")
    return array


def _read_raw(path):
    """Read a pickle or npz body-model file into a dict (values not yet converted)."""
    if not os.path.isfile(path):
        raise SMPLModelError(f"SMPL model file not found: {path}")
    if path.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except Exception as err:
            raise SMPLModelError(f"{path}: not a readable npz body-model file ({type(err).__name__}: {err})") from err
    with open(path, "rb") as handle:
        payload = handle.read()
    try:
        data = _SMPLUnpickler(io.BytesIO(payload), encoding="latin1").load()
    except Exception as err:
        raise SMPLModelError(f"{path}: not a readable SMPL pickle ({type(err).__name__}: {err}); "
                             "the file may be truncated or not a body model") from err
    if not isinstance(data, dict):
        raise SMPLModelError(f"{path}: expected a pickled dict of SMPL arrays, found {type(data).__name__}")
    return data


def load_smpl_model(path):
    """Load an SMPL-format body model file into plain numpy arrays.

    Args:
        path: ``.pkl`` (official SMPL / HMR cocoplus, chumpy or not) or ``.npz``.
    Returns:
        dict with ``v_template`` (V,3), ``shapedirs`` (V,3,NB), ``posedirs`` (V,3,9(J-1)),
        ``J_regressor`` (J,V) dense, ``weights`` (V,J), ``parents`` (J,) int with
        ``parents[0] == -1``, ``faces`` (F,3) int64, optional ``cocoplus_regressor`` (19,V),
        and ``synthetic`` (bool; True for the project's embedded default model).
    Raises:
        SMPLModelError naming the file and the problem.
    """
    raw = _read_raw(path)
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise SMPLModelError(f"{path}: not an SMPL model, missing key(s) {missing}; found {sorted(raw)[:12]}")
    arrays = {k: _plain_array(raw[k], k, path) for k in REQUIRED_KEYS}
    for key in OPTIONAL_REGRESSORS:
        if key in raw:
            arrays[key] = _plain_array(raw[key], key, path)
    num_verts = arrays["v_template"].shape[0] if arrays["v_template"].ndim == 2 else -1
    num_joints = arrays["kintree_table"].shape[-1] if arrays["kintree_table"].ndim == 2 else -1
    expected = {
        "v_template": (num_verts, 3),
        "shapedirs": (num_verts, 3, None),
        "posedirs": (num_verts, 3, 9 * (num_joints - 1)),
        "J_regressor": (num_joints, num_verts),
        "weights": (num_verts, num_joints),
        "kintree_table": (2, num_joints),
        "f": (None, 3),
        "cocoplus_regressor": (None, num_verts),
    }
    for key, shape in expected.items():
        if key not in arrays:
            continue
        got = arrays[key].shape
        if len(got) != len(shape) or any(e is not None and e != g for e, g in zip(shape, got)):
            raise SMPLModelError(f"{path}: key '{key}' has shape {got}, expected {tuple('N' if e is None else e for e in shape)}")
    if arrays["shapedirs"].shape[2] < 1:
        raise SMPLModelError(f"{path}: key 'shapedirs' has no shape directions")
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1  # stored as 4294967295 in the official files
    result = {
        "v_template": arrays["v_template"].astype(np.float64),
        "shapedirs": arrays["shapedirs"].astype(np.float64),
        "posedirs": arrays["posedirs"].astype(np.float64),
        "J_regressor": arrays["J_regressor"].astype(np.float64),
        "weights": arrays["weights"].astype(np.float64),
        "parents": parents,
        "faces": arrays["f"].astype(np.int64),
        "synthetic": bool(np.asarray(raw.get("synthetic", False)).item()) if "synthetic" in raw else False,
    }
    if "cocoplus_regressor" in arrays:
        result["cocoplus_regressor"] = arrays["cocoplus_regressor"].astype(np.float64)
    return result


def load_joint_regressor(path, num_vertices):
    """Load an extra joint regressor (``J_regressor_h36m.npy`` (17,V), ``J_regressor_extra.npy`` (9,V))."""
    if not os.path.isfile(path):
        raise SMPLModelError(f"joint regressor file not found: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as err:
        raise SMPLModelError(f"{path}: not a readable .npy regressor ({type(err).__name__}: {err})") from err
    if array.ndim != 2 or array.shape[1] != num_vertices:
        raise SMPLModelError(f"{path}: regressor has shape {array.shape}, expected (K, {num_vertices})")
    return array.astype(np.float64)


class SMPL(nn.Cell):
    """The SMPL body layer.

    ``vertices, joints = smpl(betas, pose)``:
        betas: (B, 10) float32 shape coefficients.
        pose: (B, 72) axis-angle (root first, radians) or (B, 24, 3, 3) rotation matrices.
        vertices: (B, 6890, 3); joints: (B, 24, 3) the SMPL joints; metres, float32.

    Args:
        model_path: SMPL-format file (see :func:`load_smpl_model`).
        num_betas: shape coefficients used (at most what the file has).
        extra_regressors: optional ``{name: path or (K, V) array}``, e.g.
            ``{"h36m": "J_regressor_h36m.npy"}``; the file's ``cocoplus_regressor`` is
            added as ``"cocoplus"``. Use :meth:`regress` to apply one.
    """

    def __init__(self, model_path, num_betas=NUM_BETAS, extra_regressors=None):
        super().__init__()
        model = load_smpl_model(model_path)
        if model["shapedirs"].shape[2] < num_betas:
            raise SMPLModelError(f"{model_path}: has {model['shapedirs'].shape[2]} shape directions, "
                                 f"{num_betas} requested")
        self.model_path = model_path
        self.synthetic = model["synthetic"]
        self.num_betas = num_betas
        self.faces = model["faces"]
        self.parents = tuple(int(p) for p in model["parents"])
        order, self.levels = kinematic_levels(self.parents)
        if order != tuple(range(len(order))):
            raise SMPLModelError(f"{model_path}: joints are not in breadth-first order {order}")
        consts = prepare_lbs_constants(model["v_template"], model["shapedirs"], model["posedirs"],
                                       model["J_regressor"], model["weights"], num_betas)
        self.template = Tensor(consts["template"])
        self.blend_dirs = Tensor(consts["blend_dirs"])
        self.joint_template = Tensor(consts["joint_template"])
        self.joint_dirs = Tensor(consts["joint_dirs"])
        self.weights_t = Tensor(consts["weights_t"])
        self.num_joints = len(self.parents)
        self.num_vertices = model["v_template"].shape[0]
        self.root_regressor = np.asarray(model["J_regressor"][0], np.float64)     # (V,): SMPL's root from a mesh
        regressors = {}
        if "cocoplus_regressor" in model:
            regressors["cocoplus"] = model["cocoplus_regressor"]
        for name, source in (extra_regressors or {}).items():
            regressors[name] = (load_joint_regressor(source, self.num_vertices) if isinstance(source, str)
                                else np.asarray(source, np.float64))
        self.regressor_names = tuple(regressors)
        self.has_cocoplus = "cocoplus" in regressors
        self.num_keypoints = len(regressors["cocoplus"]) if self.has_cocoplus else len(SMPL_TO_LSP14)
        self._regressors = {name: Tensor(reg.astype(np.float32)) for name, reg in regressors.items()}
        logger.info("SMPL model %s: %d vertices, %d joints, regressors %s%s", model_path, self.num_vertices,
                    self.num_joints, list(self.regressor_names), " (SYNTHETIC body model)" if self.synthetic else "")

    @jit
    def construct(self, betas, pose):
        if pose.ndim == 2:
            rotmats = batch_rodrigues(pose.reshape(-1, 3)).reshape(-1, self.num_joints, 3, 3)
        else:
            rotmats = pose
        return lbs(betas, rotmats, self.template, self.blend_dirs, self.joint_template, self.joint_dirs,
                   self.weights_t, self.parents, self.levels)

    def run_numpy(self, betas, pose, chunk=64):
        """The layer on arrays of any length, ``chunk`` rows per call, the last chunk padded with its
        final row: every call has one shape, so the compiled graph is built once for all lengths.

        betas (N, 10), pose (N, 72) axis-angle -> vertices (N, V, 3), joints (N, 24, 3); float32 arrays."""
        betas, pose = np.asarray(betas, np.float32), np.asarray(pose, np.float32)
        vertices = np.zeros((len(pose), self.num_vertices, 3), np.float32)
        joints = np.zeros((len(pose), self.num_joints, 3), np.float32)
        for start in range(0, len(pose), chunk):
            rows = np.minimum(np.arange(start, start + chunk), len(pose) - 1)
            v, j = self(Tensor(betas[rows]), Tensor(pose[rows]))
            count = min(chunk, len(pose) - start)
            vertices[start:start + count], joints[start:start + count] = v.asnumpy()[:count], j.asnumpy()[:count]
        return vertices, joints

    def regressor(self, name):
        """The (K, V) joint regressor Tensor called ``name`` (``cocoplus``, ``h36m``, ...)."""
        if name not in self._regressors:
            raise KeyError(f"no joint regressor '{name}' for {self.model_path}; have {list(self.regressor_names)}")
        return self._regressors[name]

    def regress(self, vertices, name):
        """Joints from vertices with a named regressor: (B, V, 3) -> (B, K, 3)."""
        return ops.matmul(self.regressor(name), vertices)

    def keypoints(self, vertices, joints):
        """The models' keypoint set (B, K, 3) of posed ``vertices`` (B, V, 3) and their SMPL ``joints`` (B, 24, 3),
        in their frame: cocoplus 19 regressed from the vertices when the file has that regressor (HMR's), else
        LSP 14 of the SMPL joints."""
        if self.has_cocoplus:
            return self.regress(vertices, "cocoplus")
        return take(joints, SMPL_TO_LSP14)
