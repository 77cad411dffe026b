"""One person crop through the network, as the image and video demos run it: the crop's graph inputs
(normalised pixels and the architecture's extra inputs) and a predictor of any backend."""
import numpy as np

from HMR.outputs import GRAPH_OUTPUTS


def crop_inputs(config, crop, image, focal, keypoints=None):
    """Graph inputs of one :class:`src.inference.person_crop.PersonCrop` of ``image`` (H, W, 3) RGB:
    (images (1, 3, H, W) normalised, [each extra input (1, ...)]), the extras made from the crop's frame
    with the full-image focal length ``focal`` (pixels) and, for the inputs made from a 2D pose (3DCrowdNet's),
    from the person's detected ``keypoints`` (24, 3): J24 image pixels and visibility (0/1), or None (a box alone:
    such an architecture then stops with a one-line error)."""
    from src.builders import extra_inputs
    from src.data.extra_inputs import extra_input_values
    from src.data.images import normalize_image
    batch = np.ascontiguousarray(normalize_image(crop.crop(image), config.image_normalization)[None])
    sample = None
    if keypoints is not None:
        in_crop = np.array(keypoints, np.float32)
        in_crop[:, :2] = crop.to_crop(in_crop[:, :2])
        sample = {"keypoints": in_crop, "seed": None}
    frame = crop.frame(image.shape[:2], focal)
    extra = [value[None] for value in extra_input_values(extra_inputs(config), frame, sample)]
    return batch, extra


def default_focal(config, image_hw, crops=()):
    """``focal_length``, else the focal length (pixels) the architecture assumes for an image of this size: with
    ``crops`` (:class:`src.inference.person_crop.PersonCrop`), for an architecture whose camera scales with the
    box (HybrIK's), the largest crop's; others' meshes are then placed at the depth where they project as their
    own camera projects them."""
    from src.builders import architecture
    from src.data.frame import default_focal_length
    spec = architecture(config)
    if config.focal_length:
        return config.focal_length
    if spec.focal_over_box_side and len(crops):
        return spec.focal_over_box_side * max(crop.side for crop in crops)
    return float(default_focal_length(*image_hw, spec.focal_over_image_side))


def build_crop_predictor(config, smpl, model=None):
    """A function: one crop's graph inputs (``crop_inputs``) -> dict of the graph's four outputs
    (``HMR.outputs.GRAPH_OUTPUTS``) for that crop.

    An exported graph (``model_file``) when given, else the HMR model (``model`` or the
    checkpoint) returning what the exported graphs return.
    """
    from src.inference.loading import load_model
    from src.inference.predictors import (CheckpointPredictor, check_graph_info, graph_decoder, graph_predictor,
                                          read_graph_info)
    fixed = None
    if config.model_file:
        info = read_graph_info(config.model_file)
        check_graph_info(config.model_file, info, config)
        predictor = graph_predictor(config.model_file, info.get("batch"), config.cpu_backend,
                                    graph_decoder(config, smpl))
        run, fixed = predictor.run_all, predictor.fixed_batch
    else:
        if model is None:
            model = load_model(config, smpl, "give --checkpoint_file_path CKPT or --model FILE.mindir|.onnx")
        run = CheckpointPredictor(model).run_all

    def predict(images, extra):
        inputs = (images, *extra)
        if fixed:
            inputs = tuple(np.concatenate([x] * fixed)[:fixed] for x in inputs)
        return dict(zip(GRAPH_OUTPUTS, (o[:1] for o in run(*inputs))))
    return predict
