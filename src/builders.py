"""Named builders: config -> the objects a run needs (config flows one way, into constructors)."""
import logging
import os


from HMR.constants import J24_TO_COCOPLUS19, J24_TO_LSP14
from model_utils.errors import UserInputError
from src.data.model_files import load_mean_params, resolve_model_files

logger = logging.getLogger(__name__)

AUGMENT_KEYS = ("flip_prob", "scale_jitter", "rotation_jitter", "rotation_prob", "translation_jitter", "colour_jitter")


def set_mindspore_context(config):
    """Execution mode, compilation level and graph-kernel fusion, device (``DEVICE_ID`` from the
    environment on Ascend/GPU) and seed for a run."""
    import mindspore as ms

    from model_utils.device_adapter import get_device_id
    ms.set_context(mode=ms.GRAPH_MODE if config.graph_mode else ms.PYNATIVE_MODE)
    if config.jit_level != "auto":
        if config.jit_level == "O2" and config.device_target != "Ascend":
            raise UserInputError(f"--jit_level O2 (whole-graph sink through GE) is Ascend only (device_target is "
                                 f"{config.device_target}); use O0 or O1")
        ms.set_context(jit_config={"jit_level": config.jit_level})
    if config.enable_graph_kernel:
        if config.device_target == "CPU":
            # measured with MindSpore 2.10: its AKG kernel compiler imports tvm, which needs the
            # 'decorator' package that MindSpore does not install
            raise UserInputError("--enable_graph_kernel true is for GPU: on the CPU MindSpore's AKG kernel compiler "
                                 "fails (No module named 'decorator')")
        ms.set_context(enable_graph_kernel=True)
    try:
        if config.device_target == "CPU":
            ms.set_device("CPU")
        else:
            ms.set_device(config.device_target, get_device_id())
    except RuntimeError:
        # the process already ran kernels (e.g. a second tool in one process): fine if on this device
        if ms.get_context("device_target") != config.device_target:
            raise
    ms.set_seed(config.seed)


def build_smpl(config):
    """The SMPL layer with the cocoplus (from the file) and H36M (if found) regressors."""
    from HMR import SMPL
    files = resolve_model_files(config)
    extra = {"h36m": files["h36m_regressor"]} if files["h36m_regressor"] else {}
    return SMPL(files["smpl"], extra_regressors=extra)


SIX_D_ARCHITECTURES = ("cliff", "hmr2")     # their heads' registry names are the architecture's


def head_name(config):
    """The regression head of ``config.architecture``: HMR's ``pose_head``, CLIFF's 6D head with
    bbox_info, or HMR 2.0's transformer decoder."""
    if config.architecture in SIX_D_ARCHITECTURES:
        if config.pose_head != "rot6d":
            raise UserInputError(f"--architecture {config.architecture} regresses 6D rotations: use --pose_head rot6d "
                                 f"(got {config.pose_head})")
        return config.architecture
    return config.pose_head


def crop_size(config):
    """The encoder's input crop: ``img_size`` (square) or (``img_size``, ``img_width``) pixels."""
    return config.img_size if config.img_width in (0, config.img_size) else (config.img_size, config.img_width)


def uses_frames(config):
    """Whether the samples need their place in the full image (CLIFF's bbox_info)."""
    return config.architecture == "cliff"


HRNET_STRIDE = 32      # HRNet's lowest-resolution branch: the crop must divide into it exactly
HRNETS = ("hrnet", "pose_hrnet")
VITS = ("vit_b16", "vit_l16", "vit_h16")


def column_margin(config):
    """Columns HMR 2.0 cuts from either side of its square crop (32 of 256), else 0."""
    if config.architecture != "hmr2":
        return 0
    from HMR.constants import HMR2_VIT_WIDTH_FRACTION
    from src.data.crop import crop_shape
    height, width = crop_shape(crop_size(config))
    if height != width:
        raise UserInputError(f"--architecture hmr2 takes a square crop and cuts its middle columns (HMR 2.0: "
                             f"--img_size 256 --img_width 0); got --img_size {config.img_size} "
                             f"--img_width {config.img_width}")
    return int(round(width * (1.0 - HMR2_VIT_WIDTH_FRACTION) / 2.0))


def encoder_crop(config):
    """(height, width) of what the encoder sees."""
    from src.data.crop import crop_shape
    height, width = crop_shape(crop_size(config))
    return height, width - 2 * column_margin(config)


def backbone_options(config):
    """The backbone's constructor options, or None for ResNet/HRNet's ``depth``/``width``."""
    if config.backbone not in VITS:
        return None
    return dict(crop=encoder_crop(config), width=config.vit_width, depth=config.vit_depth, heads=config.vit_heads,
                patch_padding=config.vit_patch_padding, drop_path_rate=config.drop_path_rate,
                pooled=head_name(config) != "hmr2")


def head_options(config):
    """Extra constructor options of the head (HMR 2.0's decoder sizes)."""
    if head_name(config) != "hmr2":
        return None
    return dict(depth=config.decoder_depth, heads=config.decoder_heads, dim_head=config.decoder_head_dim,
                dim=config.decoder_width, mlp_dim=config.decoder_mlp_dim)


def noise_rows(config, model):
    """Rows of the per-sample uniform noise: the regressor's dropout per iteration (twice for Meta-HMR)
    and one more for a backbone with stochastic depth (``HMR.model.HMR``)."""
    return (2 if config.meta else 1) * config.regressor_iterations + int(model.encoder_takes_noise)


def build_model(config, smpl, num_iterations=None):
    """The network described by the config (``num_iterations`` overrides ``regressor_iterations``)."""
    from HMR.model import HMR
    from src.data.crop import crop_shape
    if config.backbone in HRNETS and any(side % HRNET_STRIDE for side in crop_shape(crop_size(config))):
        raise UserInputError(f"--backbone {config.backbone} needs crop sides that are multiples of {HRNET_STRIDE} "
                             f"(got --img_size {config.img_size} --img_width {config.img_width}; CLIFF uses 256 x 192)")
    if head_name(config) == "hmr2" and config.backbone not in VITS:
        raise UserInputError(f"--architecture hmr2 reads a ViT's token map: use --backbone {' | '.join(VITS)} "
                             f"(got {config.backbone})")
    return HMR(smpl, backbone_depth=config.backbone_depth, backbone_width=config.backbone_width,
               pose_head=head_name(config), mean_params=load_mean_params(config, config.pose_head),
               num_iterations=num_iterations or config.regressor_iterations, train_mean_params=config.train_mean_params,
               backbone=config.backbone, backbone_options=backbone_options(config), head_options=head_options(config),
               column_margin=column_margin(config))


DISCRIMINATOR_SCORE_ORDER = {"hmr2": "4d_humans"}     # the rest follow the TF reference's order


def build_discriminator(config):
    """The adversarial prior, its scores in the order of the implementation ``config.architecture``
    follows (``HMR.discriminator.SCORE_ORDERS``), so converted discriminators score column for column as
    the original does."""
    from HMR.discriminator import Discriminator
    return Discriminator(DISCRIMINATOR_SCORE_ORDER.get(config.architecture, "tf_hmr"))


def build_aux_model(config, smpl):
    """Meta-HMR's auxiliary network: the main network's architecture with ``aux_iterations``
    regressor iterations and its own encoder where ``aux_backbone``/``aux_backbone_width`` say
    so, frozen (its predictions are pseudo ground truth). Weights not loaded."""
    aux_config = config.replace(backbone=config.aux_backbone or config.backbone,
                                backbone_width=config.aux_backbone_width or config.backbone_width)
    aux = build_model(aux_config, smpl, config.aux_iterations)
    for param in aux.get_parameters():
        param.requires_grad = False
    return aux


def keypoint_indices(model):
    """J24 indices of the model's 2D keypoint set (cocoplus 19 or LSP 14)."""
    return J24_TO_COCOPLUS19 if model.use_cocoplus else J24_TO_LSP14


def dataset_paths(config, names):
    """Dataset npz paths: absolute, or relative to data_path."""
    return [n if os.path.isabs(n) else os.path.join(config.data_path, n) for n in names]


def build_train_source(config, model, num_steps, rank=0, world_size=1):
    """Training samples of this rank, with the regressor's dropout noise as the last column."""
    from HMR.heads.iterative import HIDDEN
    from src.data.sources import TrainSource
    augment = {k: getattr(config, k) for k in AUGMENT_KEYS} if config.augment else None
    return TrainSource(dataset_paths(config, config.train_datasets), config.train_dataset_ratios,
                       dataset_paths(config, [config.mocap_dataset])[0], config.batch_size, num_steps,
                       crop_size(config), config.image_normalization, keypoint_indices(model), seed=config.seed,
                       augment=augment, rank=rank, world_size=world_size,
                       image_roots=[r and dataset_paths(config, [r])[0] for r in config.train_image_roots],
                       noise_shape=(noise_rows(config, model), 2, HIDDEN),
                       mocap_per_sample=config.regressor_iterations, with_frames=uses_frames(config))


def build_eval_source(config, path, keypoint_set=J24_TO_LSP14):
    """Deterministic crops of a test file (fixed box, no augmentation, file order) with the
    2D keypoints of ``keypoint_set`` (J24 indices) in crop coordinates."""
    from src.data.sources import EvalSource
    root = config.eval_image_root and dataset_paths(config, [config.eval_image_root])[0]
    return EvalSource(path, crop_size(config), config.image_normalization, keypoint_set, image_root=root,
                      with_frames=uses_frames(config))
