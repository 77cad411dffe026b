"""Named constants of the SMPL body and the keypoint sets HMR uses.

Every joint index, order and flip permutation in the project comes from here; no other
module writes a joint index as a bare number. Orders follow ``HMR_FACTS.md``.
"""

NUM_SMPL_JOINTS = 24
NUM_SMPL_VERTICES = 6890
NUM_SMPL_FACES = 13776
NUM_BETAS = 10
NUM_POSE_PARAMS = 3 * NUM_SMPL_JOINTS        # 72, axis-angle, root first
NUM_POSE_FEATURES = 9 * (NUM_SMPL_JOINTS - 1)  # 207, (R - I) of the 23 non-root joints

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# Left/right swap of the 24 SMPL joints; a flipped pose also negates the y and z
# axis-angle components of every joint.
SMPL_FLIP_PERM = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)

# HybrIK's 29 joints (hybrik/models/layers/smpl/SMPL.py): the 24 SMPL joints, then five leaf joints taken
# from the shaped template's vertices; parents extend SMPL's tree, children are each joint's first child
# with the pelvis's and spine3's fixed (spine1, neck), -1 for the leaves
HYBRIK29_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
    "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "jaw", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_thumb", "right_thumb",
    "head", "left_middle", "right_middle", "left_bigtoe", "right_bigtoe",
)
HYBRIK29_PARENTS = SMPL_PARENTS + (15, 22, 23, 10, 11)
HYBRIK29_CHILDREN = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 27, 28, 15, 16, 17, 24, 18, 19, 20, 21, 22, 23, 25, 26,
                     -1, -1, -1, -1, -1)
HYBRIK_LEAF_VERTICES = (411, 2445, 5905, 3216, 6617)
HYBRIK_PELVIS_CHILDREN = (3, 1, 2)          # spine1 first, then the hips: the root's three bones
HYBRIK_TWIST_JOINTS = 23                    # joints 1..23 each get a twist (cos, sin)
HYBRIK29_FLIP_PERM = SMPL_FLIP_PERM + (24, 26, 25, 28, 27)
# HybrIK's camera (HRNetWithCam.py): focal length in pixels of the input crop's side, the crop's side, the
# depth range that uvd's d spans (BBOX_3D_SHAPE 2200 mm), heatmap depth bins, the camera scale's start
HYBRIK_FOCAL = 1000.0
HYBRIK_INPUT_SIZE = 256.0
HYBRIK_DEPTH_FACTOR = 2.2
HYBRIK_DEPTH_DIM = 64
HYBRIK_INIT_CAM_SCALE = 0.9
HYBRIK_SIGMA_GAIN = 10.0                    # update_scale's joint weights: clamp(1 - 10 sigma, 0)

# 3DCrowdNet / HAP (common/utils/smpl.py): 30 joints = the 24 SMPL joints, five face points as single vertices
# (nose, eyes, ears), the head top from J_regressor_extra's row 3; the 15-joint graph PositionNet locates
# and RotationNet convolves over, its skeleton and flip pairs (the adjacency's edges)
CROWD30_NAMES = SMPL_JOINT_NAMES + ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "head_top")
CROWD_FACE_VERTICES = (331, 2802, 6262, 3489, 3990)
CROWD_HEAD_TOP_EXTRA_ROW = 3                    # J_regressor_extra.npy (9, V): SPIN's 'Top of Head (LSP)'
CROWD_FLIP_PERM = SMPL_FLIP_PERM + (24, 26, 25, 28, 27, 29)
CROWD15_NAMES = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "neck",
                 "head_top", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                 "right_wrist")
CROWD15_FROM_30 = tuple(CROWD30_NAMES.index(n) for n in CROWD15_NAMES)
CROWD15_SKELETON = ((0, 1), (1, 3), (3, 5), (0, 2), (2, 4), (4, 6), (0, 7), (7, 8), (7, 9), (9, 11), (11, 13),
                    (7, 10), (10, 12), (12, 14))
CROWD15_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (9, 10), (11, 12), (13, 14))
# its 72-number pose target's mask (Human36M.py's fit_param_valid): ankles, feet, wrists and hands not supervised
CROWD_UNSUPERVISED_POSE_JOINTS = tuple(SMPL_JOINT_NAMES.index(n) for n in (
    "left_ankle", "right_ankle", "left_foot", "right_foot", "left_wrist", "right_wrist", "left_hand", "right_hand"))
# config.py: 256 px input, 64^3 output heatmap space (the 2D pose input's grid), the Gaussians' sigma in that
# grid, virtual focal 5000 px, the camera's 2.5 m box (t_z = k sigmoid(c), k = f * 2.5 / 256), the 2 m depth
# range of the voxel targets; PositionNet's volume is the output space / 8 (8^3)
CROWD_INPUT_SIZE = 256
CROWD_HEATMAP_SIZE = 64
CROWD_HEATMAP_SIGMA = 2.5
CROWD_FOCAL = 5000.0
CROWD_CAMERA_3D_SIZE = 2.5
CROWD_BBOX_3D_SIZE = 2.0
CROWD_VOXELS = 8
# VPoser v1 (human_body_prior vposer_smpl.py, the 'snapshot' 3DCrowdNet loads): 32-d code, 512 units, 21 joints
VPOSER_LATENT = 32
VPOSER_HIDDEN = 512
VPOSER_JOINTS = 21

LSP14_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck", "head_top",
)
COCOPLUS19_NAMES = LSP14_NAMES + ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
COCOPLUS19_FLIP_PERM = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 16, 15, 18, 17)

# COCO's 17 keypoints (PoseFix's joint order)
COCO17_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                "right_knee", "left_ankle", "right_ankle")

# Human3.6M 17-joint order of J_regressor_h36m (SPIN/mmpose).
H36M17_NAMES = (
    "pelvis", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee",
    "right_ankle", "spine", "thorax", "neck_nose", "head", "left_shoulder", "left_elbow",
    "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)
# left/right swapped (hips, knees, ankles 1-3 <-> 4-6; shoulders, elbows, wrists 11-13 <-> 14-16)
H36M17_FLIP_PERM = (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)
H36M_TO_J14 = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)
# MPI-INF-3DHP's 17 evaluation joints: the 14 above + pelvis, spine, neck/nose (H36M order).
H36M_TO_J17 = H36M_TO_J14 + (0, 7, 9)
H36M_PELVIS = H36M17_NAMES.index("pelvis")

# SMPL joints that stand for LSP joints when a model has no cocoplus regressor
# (neck and head top approximated by SMPL neck and head).
SMPL_TO_LSP14 = tuple(SMPL_JOINT_NAMES.index(n) for n in (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck", "head"))

# SPIN / mmpose J24 = LSP 14 + pelvis, thorax, spine, jaw, head (H36M) + face points.
J24_NAMES = LSP14_NAMES + ("pelvis", "thorax", "spine", "jaw", "head_h36m", "nose", "left_eye", "right_eye",
                           "left_ear", "right_ear")
J24_FLIP_PERM = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 18, 19, 21, 20, 23, 22)
J24_TO_LSP14 = tuple(range(14))
J24_TO_COCOPLUS19 = tuple(range(14)) + tuple(J24_NAMES.index(n) for n in
                                              ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
# H36M 17 -> the J24 entries a synthetic or H36M sample fills from J_regressor_h36m
J24_FROM_H36M17 = {J24_NAMES.index("pelvis"): H36M17_NAMES.index("pelvis"),
                   J24_NAMES.index("thorax"): H36M17_NAMES.index("thorax"),
                   J24_NAMES.index("spine"): H36M17_NAMES.index("spine"),
                   J24_NAMES.index("jaw"): H36M17_NAMES.index("neck_nose"),
                   J24_NAMES.index("head_h36m"): H36M17_NAMES.index("head")}
LSP14_HIPS = (LSP14_NAMES.index("right_hip"), LSP14_NAMES.index("left_hip"))   # pelvis = their midpoint
# J24 slot standing for each H36M joint, in H36M17_NAMES order (2D inputs of the temporal
# refiner): the limbs from the LSP 14 slots, the torso and head from those J24_FROM_H36M17 fills
H36M17_FROM_J24 = tuple(J24_NAMES.index(n) for n in (
    "pelvis", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle", "spine",
    "thorax", "jaw", "head_h36m", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
    "right_wrist"))
# J24 slots of SPIN's evaluation joints, in H36M_TO_J17 order: its H36M and MPI-INF-3DHP
# files hold the H36M head in slot 18 and never fill slot 13 (LSP head top).
J24_TO_J17 = tuple(range(13)) + tuple(J24_NAMES.index(n) for n in ("head_h36m", "pelvis", "spine", "jaw"))
J24_TO_J14 = J24_TO_J17[:14]
J24_PELVIS = J24_NAMES.index("pelvis")
J24_LSP_HEAD_TOP = J24_NAMES.index("head_top")
J24_H36M_HEAD = J24_NAMES.index("head_h36m")

# Image normalisation per checkpoint family (RGB).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HYBRIK_MEAN = (0.406, 0.457, 0.480)     # simple_transform_3d_smpl_cam.py: subtracted from R, G, B in this order

# CLIFF's bbox_info = [(cx - W/2) / f * GAIN, (cy - H/2) / f * GAIN, (b - MEAN f) / (SPREAD f)]
CLIFF_BBOX_OFFSET_GAIN = 2.8
CLIFF_BBOX_SIZE_MEAN = 0.24
CLIFF_BBOX_SIZE_SPREAD = 0.06

# HMR 2.0 (4D-Humans hmr2.py, EXTRA.FOCAL_LENGTH at MODEL.IMAGE_SIZE): focal 5000 px for a 256 px crop
HMR2_FOCAL_LENGTH = 5000.0
HMR2_CROP = 256
HMR2_FOCAL_OVER_CROP = HMR2_FOCAL_LENGTH / HMR2_CROP
HMR2_VIT_WIDTH_FRACTION = 0.75        # its ViT sees the middle 192 of the square 256 crop's columns
