"""PyTorch reference of the test-time refinement: the same objective on smplx's SMPL, optimised by
torch.optim.Adam. Written from the objective's definition (SMPLify-style terms), not from the port.

Joint indices follow SMPL's kinematic order: left/right knee 4/5, left/right elbow 18/19; the
knees bend about x (index 0 of the joint's axis-angle), the elbows about y (index 1).
"""
import torch

BENDS = ((3 * 4, 1.0), (3 * 5, 1.0), (3 * 18 + 1, -1.0), (3 * 19 + 1, 1.0))


def refinement_loss(smpl, regressor, pose, betas, cam, keypoints, prior_pose, prior_betas, weights):
    """Scalar objective. pose (B, 72), betas (B, 10), cam (B, 3) as (s, tx, ty); keypoints (B, K, 3)."""
    out = smpl(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:])
    joints = torch.einsum("kv,bvc->bkc", regressor, out.vertices)
    projected = cam[:, None, :1] * (joints[:, :, :2] + cam[:, None, 1:])
    sigma2 = weights["sigma"] ** 2
    squared = (projected - keypoints[:, :, :2]) ** 2
    visible = keypoints[:, :, 2:]
    reprojection = (sigma2 * squared / (sigma2 + squared) * visible).sum() / torch.clamp(visible.sum() * 2, min=1)
    index = torch.tensor([i for i, _ in BENDS])
    sign = torch.tensor([s for _, s in BENDS])
    limits = (torch.relu(-pose[:, index] * sign) ** 2).mean()
    return (weights["reprojection"] * reprojection + weights["pose"] * ((pose - prior_pose) ** 2).mean()
            + weights["limits"] * limits + weights["shape"] * ((betas - prior_betas) ** 2).mean())


def make_refiner(smpl, regressor, pose, betas, cam, keypoints, lr, weights):
    """(step(), params): one Adam step per call on (pose, betas, cam) from the given start."""
    params = [torch.tensor(x, requires_grad=True) for x in (pose, betas, cam)]
    prior_pose, prior_betas, kps = (torch.tensor(x) for x in (pose, betas, keypoints))
    optimizer = torch.optim.Adam(params, lr=lr)

    def step():
        optimizer.zero_grad()
        loss = refinement_loss(smpl, regressor, *params, kps, prior_pose, prior_betas, weights)
        loss.backward()
        optimizer.step()
        return loss
    return step, params
