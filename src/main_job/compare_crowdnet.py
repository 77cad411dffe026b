"""3DCrowdNet against HMR on the embedded default: the same encoder size, data, crop and steps.

``python -m src.main_job.compare_crowdnet --config_path src/main_job/demo_config.yaml [--KEY VALUE ...]``
(``bash scripts/run_compare_crowdnet.sh``). HMR (SPIN's 6D head) and 3DCrowdNet (its 2D pose fused after the stem,
PositionNet, RotationNet and a VPoser trained on the embedded mocap, ``src/training/vposer.py``) train with the same
ResNet-18 (width 16: 128-d pose-guided features, so no 1 x 1 lift) on 256 px crops of the embedded default's
centred splits, 3DCrowdNet's 2D pose input made from the 2D labels corrupted as its training corrupts them, also at
evaluation (``eval_pose_corruption``). Rows as ``compare_hybrik``'s: MPJPE, PA-MPJPE, PVE, the 2D error of the
model's keypoints, trained / untrained; and the errors on ``synthetic_eval_two.npz``, images of the labelled person
with a second one overlapping (3DCrowdNet's claim: the 2D pose says which person to reconstruct). ``<output_path>/crowdnet_vs_hmr/summary.json``; an interrupted comparison
resumes.
"""
import logging
import os

from model_utils.entry import run_entry
from model_utils.errors import UserInputError
from model_utils.logger import setup_logging

logger = logging.getLogger("compare_crowdnet")

CROP = {"img_size": 256, "img_width": 0}
RUNS = {
    "hmr": dict(CROP, architecture="hmr", pose_head="rot6d", backbone="resnet", image_normalization="hmr"),
    "crowdnet": dict(CROP, architecture="crowdnet", pose_head="vposer", backbone="resnet", image_normalization="unit",
                     crowdnet_feature_dim=128),
}
FOLDER = "crowdnet_vs_hmr"
TWO_PERSON_SPLIT = "eval_two"


def main(config):
    from src.builders import set_mindspore_context
    from src.main_job.compare_hybrik import compare
    from src.main_job.run import prepare_embedded_default
    from src.data.model_files import vposer_file
    from src.training.vposer import train_vposer
    setup_logging(os.path.join(config.output_path, FOLDER))
    set_mindspore_context(config)
    smpl = prepare_embedded_default(config)
    if not os.path.isfile(vposer_file(config)):
        train_vposer(config)
    two = os.path.join("synthetic", f"synthetic_{TWO_PERSON_SPLIT}.npz")          # relative to data_path
    if not os.path.isfile(os.path.join(config.data_path, two)):
        raise UserInputError(f"{os.path.join(config.data_path, two)} not found: render it with --synthetic_splits "
                             f"[..., {TWO_PERSON_SPLIT}]")
    return compare(config, smpl, RUNS, FOLDER, {"two_person": two})


if __name__ == "__main__":
    run_entry(main)
