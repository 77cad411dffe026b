"""The rotation that best maps one small point set onto another, without an SVD (exportable).

HybrIK orients the pelvis by Kabsch over its three children: ``S = rest @ target^T``, ``U, V`` from
``torch.svd(S)`` (on the CPU), ``R = V diag(1, 1, det(V U^T)) U^T`` (``batch_get_pelvis_orient_svd``,
``hybrik/models/layers/smpl/lbs.py``), and ``R = I`` where ``S`` sums to zero. The SVD is what keeps
HybrIK's graph from exporting (its issue #159). Here the same proper rotation comes from Horn's
quaternion method (Horn 1987): the optimal rotation's unit quaternion is the eigenvector of the
largest eigenvalue of a symmetric 4 x 4 matrix ``N`` built from ``S``. That eigenvector is found by
repeated squaring of ``N + c I`` (``c`` = the Frobenius norm of ``S``, which bounds every eigenvalue,
so all shifted eigenvalues are >= 0 and the largest dominates): after k squarings the other
eigenvalues' share falls as their ratio to the largest to the power 2^k. Only matrix products,
a normalisation and a comparison: every exporter has them.
"""
import numpy as np
from mindspore import Tensor, ops

from HMR.geometry import quaternion_to_rotmat

SQUARINGS = 24            # (N + cI)^(2^24): eigenvalue gaps down to ~1e-6 of c are resolved
_TINY = 1e-30
TIE_BREAK = np.array([3e-6, 2e-6, 1e-6, 0.0], np.float32)


def _horn_matrix(s):
    """Horn's symmetric N (B, 4, 4) of the correlation S (B, 3, 3), S_ij = sum_k rest_ki target_kj."""
    sxx, sxy, sxz = s[:, 0, 0:1], s[:, 0, 1:2], s[:, 0, 2:3]
    syx, syy, syz = s[:, 1, 0:1], s[:, 1, 1:2], s[:, 1, 2:3]
    szx, szy, szz = s[:, 2, 0:1], s[:, 2, 1:2], s[:, 2, 2:3]
    rows = [[sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
            [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
            [szx - sxz, sxy + syx, syy - sxx - szz, syz + szy],
            [sxy - syx, szx + sxz, syz + szy, szz - sxx - syy]]
    return ops.concat([ops.concat(row, -1) for row in rows], -1).reshape(-1, 4, 4)


def best_rotation(rest, target):
    """The proper rotation R (B, 3, 3) minimising sum_k |R rest_k - target_k|^2.

    Args:
        rest: (B, K, 3) vectors; target: (B, K, 3) vectors (K >= 2 for a unique answer).
    Returns:
        (B, 3, 3); the identity where the correlation is all zero (HybrIK's rule).
    """
    s = ops.matmul(ops.swapaxes(rest, 1, 2), target)                     # (B, 3, 3)
    n = _horn_matrix(s)
    scale = ops.sqrt(ops.sum(ops.square(s), (1, 2), keepdim=True))      # (B, 1, 1) >= every |eigenvalue|
    eye = Tensor(np.eye(4, dtype=np.float32))
    power = n / (scale + _TINY) + eye                                    # eigenvalues in [0, 2]; exactly I if S = 0
    for _ in range(SQUARINGS):
        power = ops.matmul(power, power)
        power = power / (ops.amax(ops.abs(power), (1, 2), keepdims=True) + _TINY)
    # power ~ q q^T: its column with the largest diagonal entry is q up to scale and sign
    # the first largest diagonal entry, as a mask (the exporter has no Diagonal and no OneHot): ties (e.g.
    # the identity of an all-zero S) go to the earlier index by a bias far below any real difference
    diagonal = ops.sum(power * eye, -1) + Tensor(TIE_BREAK)              # (B, 4)
    pick = ops.cast(diagonal >= ops.amax(diagonal, -1, keepdims=True), diagonal.dtype)
    quaternion = ops.sum(power * pick.reshape(-1, 1, 4), -1)             # (B, 4)
    return quaternion_to_rotmat(quaternion)
