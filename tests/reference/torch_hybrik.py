"""A PyTorch mirror of HybrIK's body layer (``hybrik/models/layers/smpl/lbs.py``: ``hybrik``,
``batch_inverse_kinematics_transform``, ``batch_get_pelvis_orient_svd``, and the naive
``batch_inverse_kinematics_transform_naive``, ``batch_get_pelvis_orient``; Jeff-sjtu/HybrIK at 9b8681d),
with HybrIK's own formulas: the 1e-8 guards on the product of lengths, the root by ``torch.svd``
Kabsch with the determinant fix, the 15 mm fallback, a Python loop over the 29 joints. Skinning from
smplx (``blend_shapes``, ``vertices2joints``, ``batch_rigid_transform``), as HybrIK's lbs has it.
"""
import torch
from smplx.lbs import batch_rigid_transform, blend_shapes, vertices2joints

PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21, 15, 22, 23, 10, 11]
CHILDREN = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 27, 28, 15, 16, 17, 24, 18, 19, 20, 21, 22, 23, 25, 26,
            -1, -1, -1, -1, -1]
LEAF_VERTICES = [411, 2445, 5905, 3216, 6617]


def _skew(axis):
    """(B, 3, 1) -> (B, 3, 3) cross-product matrices."""
    x, y, z = axis[:, 0, 0], axis[:, 1, 0], axis[:, 2, 0]
    zero = torch.zeros_like(x)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], 1).view(-1, 3, 3)


def _rodrigues(axis, cos, sin):
    k = _skew(axis)
    return torch.eye(3).unsqueeze(0) + sin * k + (1 - cos) * torch.bmm(k, k)


def batch_get_pelvis_orient_svd(rel_pose_skeleton, rel_rest_pose):
    """(B, 29, 3, 1) bones -> (B, 3, 3): Kabsch over spine1 and the hips by SVD."""
    children = [3, 1, 2]
    rest = torch.cat([rel_rest_pose[:, c] for c in children], 2)
    target = torch.cat([rel_pose_skeleton[:, c] for c in children], 2)
    s = rest.bmm(target.transpose(1, 2))
    u, _, v = torch.svd(s)
    fix = torch.eye(3).unsqueeze(0).repeat(len(s), 1, 1)
    fix[:, 2, 2] = torch.det(torch.bmm(v, u.transpose(1, 2)))
    rot = torch.bmm(torch.bmm(v, fix), u.transpose(1, 2))
    return torch.where((s.sum((1, 2)) == 0).view(-1, 1, 1), torch.eye(3).expand_as(rot), rot)


def batch_inverse_kinematics_transform(pose_skeleton, phis, rest_pose):
    """pose_skeleton (B, 29, 3), phis (B, 23, 2), rest_pose (B, 29, 3) -> local rotations (B, 24, 3, 3)."""
    parents = torch.tensor(PARENTS)
    rel_rest = rest_pose.clone()
    rel_rest[:, 1:] -= rest_pose[:, parents[1:]]
    rel_rest = rel_rest.unsqueeze(-1)
    rel_pose = pose_skeleton.clone().unsqueeze(-1).detach()
    rel_pose[:, 1:] = rel_pose[:, 1:] - rel_pose[:, parents[1:]].clone()
    rel_pose[:, 0] = rel_rest[:, 0]
    final = pose_skeleton.unsqueeze(-1)
    final = final - final[:, 0:1] + rel_rest[:, 0:1]
    phis = phis / (torch.norm(phis, dim=2, keepdim=True) + 1e-8)
    root = batch_get_pelvis_orient_svd(rel_pose, rel_rest)
    chain, local = [root], [root]
    rotated_rest = [rel_rest[:, 0]]
    for i in range(1, 24):
        p, c = PARENTS[i], CHILDREN[i]
        rotated_rest.append(rotated_rest[p] + torch.matmul(chain[p], rel_rest[:, i]))
        target = final[:, c] - rotated_rest[i]
        template = rel_rest[:, c]
        rescaled = rel_pose[:, c] * torch.norm(template, dim=1, keepdim=True) / torch.norm(rel_pose[:, c], dim=1,
                                                                                          keepdim=True)
        far = torch.norm(target - rescaled, dim=1, keepdim=True) > 15 / 1000
        target = torch.where(far, rescaled, target)
        target = torch.matmul(chain[p].transpose(1, 2), target)
        target_norm = torch.norm(target, dim=1, keepdim=True)
        rest_norm = torch.norm(template, dim=1, keepdim=True)
        axis = torch.cross(template, target, dim=1)
        axis_norm = torch.norm(axis, dim=1, keepdim=True)
        cos = torch.sum(template * target, dim=1, keepdim=True) / (rest_norm * target_norm + 1e-8)
        sin = axis_norm / (rest_norm * target_norm + 1e-8)
        swing = _rodrigues(axis / (axis_norm + 1e-8), cos, sin)
        twist = _rodrigues(template / rest_norm, phis[:, i - 1, 0].view(-1, 1, 1), phis[:, i - 1, 1].view(-1, 1, 1))
        local.append(torch.matmul(swing, twist))
        chain.append(torch.matmul(chain[p], local[i]))
    return torch.stack(local, 1)


def _vectors2rotmat(rest, final):
    """``vectors2rotmat``: (B, 3, 1) rest and target vectors -> the swing (B, 3, 3)."""
    final_norm, rest_norm = torch.norm(final, dim=1, keepdim=True), torch.norm(rest, dim=1, keepdim=True)
    axis = torch.cross(rest, final, dim=1)
    axis_norm = torch.norm(axis, dim=1, keepdim=True)
    cos = torch.sum(rest * final, dim=1, keepdim=True) / (rest_norm * final_norm + 1e-8)
    sin = axis_norm / (rest_norm * final_norm + 1e-8)
    return _rodrigues(axis / (axis_norm + 1e-8), cos, sin)


def batch_get_pelvis_orient(rel_pose_skeleton, rel_rest_pose):
    """(B, 29, 3, 1) bones -> (B, 3, 3): spine1's rest bone onto the predicted one, then about the
    predicted spine the hips' mean (parts normal to the spine)."""
    spine_final, spine_rest = rel_pose_skeleton[:, 3].clone(), rel_rest_pose[:, 3].clone()
    spine_norm = spine_final / (torch.norm(spine_final, dim=1, keepdim=True) + 1e-8)
    rot_spine = _vectors2rotmat(spine_rest, spine_final)
    centre_final = (rel_pose_skeleton[:, 1] + rel_pose_skeleton[:, 2]) / 2
    centre_rest = torch.matmul(rot_spine, (rel_rest_pose[:, 1] + rel_rest_pose[:, 2]) / 2)
    centre_final = centre_final - torch.sum(centre_final * spine_norm, dim=1, keepdim=True) * spine_norm
    centre_rest = centre_rest - torch.sum(centre_rest * spine_norm, dim=1, keepdim=True) * spine_norm
    return torch.matmul(_vectors2rotmat(centre_rest, centre_final), rot_spine)


NAIVE_LEVELS = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [12, 13, 14], [15, 16, 17], [18, 19, 10], [20, 21, 11], [22, 23]]


def batch_inverse_kinematics_transform_naive(pose_skeleton, phis, rest_pose):
    """The naive solver: level by level, each target the predicted bone in the parent chain's frame."""
    parents = torch.tensor(PARENTS)
    children = torch.tensor(CHILDREN)
    rel_rest = rest_pose.clone()
    rel_rest[:, 1:] -= rest_pose[:, parents[1:]]
    rel_rest = rel_rest.unsqueeze(-1)
    rel_pose = pose_skeleton.clone().unsqueeze(-1).detach()
    rel_pose[:, 1:] = rel_pose[:, 1:] - rel_pose[:, parents[1:]].clone()
    rel_pose[:, 0] = rel_rest[:, 0]
    phis = phis / (torch.norm(phis, dim=2, keepdim=True) + 1e-8)
    root = batch_get_pelvis_orient(rel_pose.clone(), rel_rest.clone())
    batch = len(pose_skeleton)
    chain = torch.zeros((batch, 24, 3, 3))
    local = torch.zeros_like(chain)
    chain[:, 0], local[:, 0] = root, root
    for indices in NAIVE_LEVELS:
        k = len(indices)
        final = torch.matmul(chain[:, parents[indices]].transpose(2, 3), rel_pose[:, children[indices]])
        rest = rel_rest[:, children[indices]]
        final_norm, rest_norm = torch.norm(final, dim=2, keepdim=True), torch.norm(rest, dim=2, keepdim=True)
        axis = torch.cross(rest, final, dim=2)
        axis_norm = torch.norm(axis, dim=2, keepdim=True)
        cos = torch.sum(rest * final, dim=2, keepdim=True) / (rest_norm * final_norm + 1e-8)
        sin = axis_norm / (rest_norm * final_norm + 1e-8)
        swing = _rodrigues(axis.reshape(-1, 3, 1) / (axis_norm.reshape(-1, 1, 1) + 1e-8), cos.reshape(-1, 1, 1),
                           sin.reshape(-1, 1, 1)).view(batch, k, 3, 3)
        spin_axis = (rest / (rest_norm + 1e-8)).reshape(-1, 3, 1)
        twist = phis[:, [i - 1 for i in indices]]
        spin = _rodrigues(spin_axis, twist[..., 0].reshape(-1, 1, 1), twist[..., 1].reshape(-1, 1, 1)).view(batch, k, 3, 3)
        rot = torch.matmul(swing, spin)
        chain[:, indices] = torch.matmul(chain[:, parents[indices]], rot)
        local[:, indices] = rot
    return local


def hybrik(smpl, j_regressor_h36m, betas, pose_skeleton, phis, naive=False):
    """HybrIK's ``hybrik`` on an smplx.SMPL (the inference solver, or the naive one): -> vertices (B, V, 3),
    joints (B, 24, 3), rotations (B, 24, 3, 3), H36M joints (B, 17, 3)."""
    shaped = smpl.v_template + blend_shapes(betas, smpl.shapedirs)
    rest = torch.cat([vertices2joints(smpl.J_regressor, shaped), shaped[:, LEAF_VERTICES]], 1)
    solver = batch_inverse_kinematics_transform_naive if naive else batch_inverse_kinematics_transform
    rotmats = solver(pose_skeleton, phis, rest)
    joints, transforms = batch_rigid_transform(rotmats, rest[:, :24], smpl.parents)
    pose_feature = (rotmats[:, 1:] - torch.eye(3)).reshape(len(betas), -1)
    posed = shaped + torch.matmul(pose_feature, smpl.posedirs).view(len(betas), -1, 3)
    weights = smpl.lbs_weights.unsqueeze(0).expand(len(betas), -1, -1)
    per_vertex = torch.matmul(weights, transforms.view(len(betas), 24, 16)).view(len(betas), -1, 4, 4)
    homogen = torch.cat([posed, torch.ones_like(posed[..., :1])], 2)
    vertices = torch.matmul(per_vertex, homogen.unsqueeze(-1))[:, :, :3, 0]
    return vertices, joints, rotmats, torch.matmul(j_regressor_h36m, vertices)


def smpl_layer_hybrik(smpl, j_regressor_h36m, betas, pose_skeleton, phis, naive=False):
    """``SMPL_layer.hybrik`` without ``transl``: the outputs of :func:`hybrik` re-centred, the vertices and
    H36M joints on the H36M pelvis (index 0), the joints on the SMPL pelvis."""
    vertices, joints, rotmats, h36m = hybrik(smpl, j_regressor_h36m, betas, pose_skeleton, phis, naive)
    pelvis = h36m[:, 0:1]
    return vertices - pelvis, joints - joints[:, 0:1], rotmats, h36m - pelvis


JOINT_PAIRS_29 = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23), (25, 26),
                  (27, 28))


def integral_uvd(out):
    """``HRNetSMPLCam.forward``'s integral step: logits (B, 29, D, H, W) -> global softmax, max, the three
    marginals and their expected index -> uvd (B, 29, 3), maxvals (B, 29, 1)."""
    b, k, d, h, w = out.shape
    heatmaps = torch.softmax(out.reshape(b, k, -1), 2)
    maxvals, _ = torch.max(heatmaps, dim=2, keepdim=True)
    heatmaps = heatmaps.reshape(b, k, d, h, w)
    hm_x0, hm_y0, hm_z0 = heatmaps.sum((2, 3)), heatmaps.sum((2, 4)), heatmaps.sum((3, 4))
    range_tensor = torch.arange(w, dtype=torch.float32).unsqueeze(-1)
    coord_x = hm_x0.matmul(range_tensor) / float(w) - 0.5
    coord_y = hm_y0.matmul(range_tensor) / float(h) - 0.5
    coord_z = hm_z0.matmul(range_tensor) / float(d) - 0.5
    return torch.cat((coord_x, coord_y, coord_z), dim=2), maxvals


def flip_heatmap(heatmaps):
    """``flip_heatmap`` (B, 29, D, H, W) as meant: mirror W, swap the pairs, shift one voxel right. The
    original writes ``h[..., 1:] = h[..., 0:-1]`` in place; PyTorch 2.13 smears that overlapping copy
    (every column becomes the first), so the source is cloned here."""
    heatmaps = heatmaps.flip(dims=(4,))
    for left, right in JOINT_PAIRS_29:
        idx, inv_idx = torch.tensor((left, right)), torch.tensor((right, left))
        heatmaps[:, idx] = heatmaps[:, inv_idx]
    heatmaps[:, :, :, :, 1:] = heatmaps[:, :, :, :, 0:-1].clone()
    return heatmaps


def back_project(pred_uvd, cam_scale, bboxes, img_center, focal_length=1000.0, input_size=256.0,
                 depth_factor=2.2):
    """``forward``'s back-projection with boxes: -> pred_xyz_jts_29 (root-relative, depth_factor units),
    camera_root (m)."""
    cam_depth = focal_length / (input_size * cam_scale + 1e-9)
    cx, cy = (bboxes[:, 0] + bboxes[:, 2]) * 0.5, (bboxes[:, 1] + bboxes[:, 3]) * 0.5
    w, h = bboxes[:, 2] - bboxes[:, 0], bboxes[:, 3] - bboxes[:, 1]
    bbox_center = torch.stack(((cx - img_center[:, 0]) / w, (cy - img_center[:, 1]) / h), dim=1).unsqueeze(1)
    xyz = torch.zeros_like(pred_uvd)
    xyz[:, :, 2:] = pred_uvd[:, :, 2:]
    xy_m = ((pred_uvd[:, :, :2] + bbox_center) * input_size / focal_length) * (xyz[:, :, 2:] * depth_factor + cam_depth)
    xyz[:, :, :2] = xy_m / depth_factor
    camera_root = xyz[:, 0, :] * depth_factor
    camera_root[:, 2] += cam_depth[:, 0, 0]
    return xyz - xyz[:, [0]], camera_root


def update_scale_solve(pred_uvd24, pred_xyz24, weight, focal_length=1000.0, input_size=256.0):
    """``update_scale``'s solve: uvd with the box offset added (B, 24, 3), joints (B, 24, 3) m placed at the
    root, weight (B, 24, 1) -> scale (B, 1, 1) by ``inverse(A^T A) A^T b``."""
    bs = len(pred_uvd24)
    ax, ay = pred_uvd24[:, :, :1] * weight, pred_uvd24[:, :, 1:2] * weight
    a = torch.cat((ax, ay), dim=1)
    bx = (pred_xyz24[:, :, 0] - input_size * pred_uvd24[:, :, 0] / focal_length * pred_xyz24[:, :, 2]) * weight[:, :, 0]
    by = (pred_xyz24[:, :, 1] - input_size * pred_uvd24[:, :, 1] / focal_length * pred_xyz24[:, :, 2]) * weight[:, :, 0]
    b = torch.cat((bx, by), dim=1)[:, :, None]
    res = torch.inverse(a.transpose(1, 2).bmm(a)).bmm(a.transpose(1, 2)).bmm(b)
    return (1.0 / res).reshape(bs, 1, 1)
