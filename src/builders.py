"""Named builders: config -> the objects a run needs (config flows one way, into constructors)."""
import logging
import os


from HMR.constants import J24_TO_COCOPLUS19, J24_TO_LSP14
from HMR.registry import Registry
from model_utils.errors import UserInputError
from src.data.model_files import load_mean_params, resolve_model_files, vposer_file

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


def architecture(config):
    """The :class:`HMR.architectures.ArchitectureSpec` of ``config.architecture``."""
    from HMR.architectures import architecture_spec
    return architecture_spec(config.architecture)


def head_name(config):
    """The regression head ``config.architecture`` builds for ``config.pose_head``."""
    heads = architecture(config).heads
    if config.pose_head not in heads:
        raise UserInputError(f"--architecture {config.architecture} takes --pose_head {' | '.join(heads)} "
                             f"(got {config.pose_head})")
    return heads[config.pose_head]


def extra_inputs(config):
    """Names of the graph inputs ``config.architecture`` takes after the images, in order."""
    return architecture(config).input_names


def crop_size(config):
    """The encoder's input crop: ``img_size`` (square) or (``img_size``, ``img_width``) pixels."""
    return config.img_size if config.img_width in (0, config.img_size) else (config.img_size, config.img_width)


def column_margin(config):
    """Columns cut from either side of the square crop before the encoder (HMR 2.0: 32 of 256), else 0."""
    fraction = architecture(config).encoder_width_fraction
    if fraction >= 1.0:
        return 0
    from src.data.crop import crop_shape
    height, width = crop_shape(crop_size(config))
    if height != width:
        raise UserInputError(f"--architecture {config.architecture} takes a square crop and cuts its middle columns "
                             f"(its encoder sees {fraction:g} of them); got --img_size {config.img_size} "
                             f"--img_width {config.img_width}: use --img_width 0")
    return int(round(width * (1.0 - fraction) / 2.0))


def encoder_crop(config):
    """(height, width) of what the encoder sees."""
    from src.data.crop import crop_shape
    height, width = crop_shape(crop_size(config))
    return height, width - 2 * column_margin(config)


def _config_options(config, component):
    """A registry entry's constructor options read from the config (``Component.config_options``)."""
    return {option: getattr(config, key) for option, key in component.config_options.items()}


def backbone_options(config):
    """The backbone's constructor options (its registry entry's config keys, the crop if it takes one,
    and whether it pools its tokens when it can also return its token map)."""
    from HMR.backbones import BACKBONES
    from HMR.heads import HEADS
    backbone = BACKBONES.get(config.backbone)
    options = _config_options(config, backbone)
    if backbone.fact("takes_crop"):
        options["crop"] = encoder_crop(config)
    if backbone.fact("token_map"):
        options["pooled"] = not HEADS.get(head_name(config)).fact("token_map")
    return options


def head_options(config):
    """Extra constructor options of the head (its registry entry's config keys: HMR 2.0's decoder sizes)."""
    from HMR.heads import HEADS
    return _config_options(config, HEADS.get(head_name(config)))


def noise_rows(config, model):
    """Rows of the per-sample uniform noise: the regressor's dropout per iteration (twice for Meta-HMR)
    and one more for a backbone with stochastic depth (``HMR.model.HMR``)."""
    return (2 if config.meta else 1) * config.regressor_iterations + int(model.encoder_takes_noise)


def check_backbone(config):
    """Refuse a backbone that cannot serve the configured head or crop, naming what would."""
    from HMR.backbones import BACKBONES
    from HMR.heads import HEADS
    from src.data.crop import crop_shape
    backbone = BACKBONES.get(config.backbone)
    multiple = backbone.fact("crop_multiple", 1)
    if any(side % multiple for side in crop_shape(crop_size(config))):
        raise UserInputError(f"--backbone {config.backbone} needs crop sides that are multiples of {multiple} "
                             f"(got --img_size {config.img_size} --img_width {config.img_width}; CLIFF uses 256 x 192)")
    head = HEADS.get(head_name(config))
    if head.fact("token_map") and not backbone.fact("token_map"):
        raise UserInputError(f"--architecture {config.architecture} reads a backbone's token map: use --backbone "
                             f"{' | '.join(BACKBONES.with_fact('token_map'))} (got {config.backbone})")
    if head.fact("splits") and not backbone.fact("splits"):
        raise UserInputError(f"--architecture {config.architecture} feeds its input between a backbone's halves: use "
                             f"--backbone {' | '.join(BACKBONES.with_fact('splits'))} (got {config.backbone})")
    if bool(head.fact("volumes")) != bool(backbone.fact("volumes")):
        names = BACKBONES.with_fact("volumes") if head.fact("volumes") else \
            tuple(n for n in BACKBONES.names() if not BACKBONES.get(n).fact("volumes"))
        raise UserInputError(f"--architecture {config.architecture} takes --backbone {' | '.join(names)} "
                             f"(got {config.backbone})")


def build_model(config, smpl, num_iterations=None):
    """The network described by the config (``num_iterations`` overrides ``regressor_iterations``), assembled
    as its architecture's spec says (``MODEL_BUILDERS``)."""
    check_backbone(config)
    return MODEL_BUILDERS.build(architecture(config).model, config, smpl, num_iterations)


def build_hmr(config, smpl, num_iterations=None):
    """HMR and the families built like it (``HMR/model.py``)."""
    from HMR.model import HMR
    spec = architecture(config)
    return HMR(smpl, pose_head=head_name(config), mean_params=load_mean_params(config),
               num_iterations=num_iterations or config.regressor_iterations, train_mean_params=config.train_mean_params,
               backbone=config.backbone, backbone_options=backbone_options(config), head_options=head_options(config),
               column_margin=column_margin(config), camera=spec.camera, camera_options=spec.camera_options)


def build_hybrik(config, smpl, num_iterations=None):
    """HybrIK (``HMR/hybrik.py``): its head's sizes and the scale re-fit are facts of the backbone's entry."""
    from HMR.backbones import BACKBONES
    from HMR.hybrik import HybrIKModel
    if "h36m" not in smpl.regressor_names:
        raise UserInputError("--architecture hybrik needs the Human3.6M joint regressor (its 17 joints come from the "
                             "mesh): set --h36m_regressor_path (J_regressor_h36m.npy)")
    backbone = BACKBONES.get(config.backbone)
    return HybrIKModel(smpl, config.backbone, backbone_options(config), load_mean_params(config),
                       head_hidden=backbone.fact("head_hidden", 0), camera_numbers=backbone.fact("camera_numbers", 1),
                       refit_scale=backbone.fact("refit_scale", False), flip_test=config.flip_test,
                       camera=architecture(config).camera)


def build_crowdnet(config, smpl, num_iterations=None):
    """3DCrowdNet / HAP (``HMR/crowdnet.py``): its 30-joint regressor from the body model's ``J_regressor``, the face
    vertices and ``J_regressor_extra.npy``'s head top."""
    from HMR.constants import CROWD_INPUT_SIZE
    from HMR.crowdnet import CrowdNet, crowd30_regressor
    from HMR.smpl.layer import load_joint_regressor, load_smpl_model
    if crop_size(config) != CROWD_INPUT_SIZE:
        raise UserInputError(f"--architecture crowdnet takes {CROWD_INPUT_SIZE} x {CROWD_INPUT_SIZE} crops (its 2D pose "
                             f"input lives on their 64 x 64 grid): use --img_size {CROWD_INPUT_SIZE} --img_width 0")
    files = resolve_model_files(config)
    if not files["extra_regressor"]:
        raise UserInputError("--architecture crowdnet needs J_regressor_extra.npy (its head-top joint, row 3): set "
                             "--extra_regressor_path or put it in --data_path")
    extra = load_joint_regressor(files["extra_regressor"], smpl.num_vertices)
    regressor = crowd30_regressor(load_smpl_model(files["smpl"])["J_regressor"], extra)
    spec = architecture(config)
    model = CrowdNet(smpl, regressor, config.backbone, backbone_options(config), config.crowdnet_feature_dim,
                     camera=spec.camera, camera_options=spec.camera_options)
    load_vposer(config, model.vposer)
    return model


def load_vposer(config, decoder):
    """VPoser's decoder weights from ``vposer_path`` (default ``DATA_PATH/vposer_v1.ckpt``) into ``decoder`` if the
    file exists (a whole-model checkpoint loaded afterwards brings its own); a warning otherwise."""
    import mindspore as ms
    path = vposer_file(config)
    if not os.path.isfile(path):
        if config.vposer_path:
            raise UserInputError(f"--vposer_path not found: {path}")
        logger.warning("no VPoser checkpoint at %s: the pose decoder keeps its random weights (convert VPoser's "
                       "snapshot with python -m src.convert --from vposer, or train one: python -m src.training.vposer)",
                       path)
        return
    from src.checkpoints import structural_parameters
    weights = {name: value for name, value in ms.load_checkpoint(path).items() if name.startswith("bodyprior_dec_")}
    parameters = structural_parameters(decoder)          # the snapshot's names, whatever cell holds the decoder
    if set(weights) != set(parameters):
        raise UserInputError(f"{path}: not a VPoser v1 checkpoint (decoder keys {sorted(weights)[:3]}..., expected "
                             f"{sorted(parameters)})")
    for name, parameter in parameters.items():
        parameter.set_data(weights[name].value())
    logger.info("VPoser decoder loaded from %s", path)


MODEL_BUILDERS = Registry("model", {"hmr": build_hmr, "hybrik": build_hybrik, "crowdnet": build_crowdnet})


def build_discriminator(config):
    """The adversarial prior, its scores in the order of the implementation ``config.architecture``
    follows (``HMR.discriminator.SCORE_ORDERS``), so converted discriminators score column for column as
    the original does."""
    from HMR.discriminator import Discriminator
    return Discriminator(architecture(config).discriminator_order)


def build_meta_loss(config):
    """Meta-HMR's objective with ``config``'s weights (training and adaptation)."""
    from HMR.meta_loss import MetaHMRLoss
    return MetaHMRLoss(config.meta_shape_weight, config.meta_keypoint_weight, config.meta_pose_weight,
                       config.meta_betas_weight)


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
    return J24_TO_COCOPLUS19 if model.smpl.has_cocoplus else J24_TO_LSP14


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
                       noise_shape=getattr(model, "train_noise_shape", None) or (noise_rows(config, model), 2, HIDDEN),
                       mocap_per_sample=config.regressor_iterations, extra_inputs=extra_inputs(config))


def build_eval_source(config, path, keypoint_set=J24_TO_LSP14):
    """Deterministic crops of a test file (fixed box, no augmentation, file order) with the
    2D keypoints of ``keypoint_set`` (J24 indices) in crop coordinates."""
    from src.data.sources import EvalSource
    root = config.eval_image_root and dataset_paths(config, [config.eval_image_root])[0]
    return EvalSource(path, crop_size(config), config.image_normalization, keypoint_set, image_root=root,
                      extra_inputs=extra_inputs(config), input_seed=config.seed if config.eval_pose_corruption else None)
