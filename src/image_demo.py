"""The image demo: crop (whole image or a given box), run HMR (checkpoint or exported graph),
write npz/json/obj/overlay per image (``demo.py`` is the command line)."""
import glob
import logging
import os

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def list_images(config):
    if bool(config.img) == bool(config.img_folder):
        raise UserInputError("give exactly one of --img FILE or --img_folder DIR")
    if config.img:
        if not os.path.isfile(config.img):
            raise UserInputError(f"--img: file not found: {config.img}")
        return [config.img]
    if not os.path.isdir(config.img_folder):
        raise UserInputError(f"--img_folder: folder not found: {config.img_folder}")
    images = sorted(p for p in glob.glob(os.path.join(config.img_folder, "*")) if p.lower().endswith(IMAGE_SUFFIXES))
    if not images:
        raise UserInputError(f"--img_folder: no {'/'.join(IMAGE_SUFFIXES)} images in {config.img_folder}")
    return images


def build_runner(config, smpl, model=None):
    """A function: one normalised crop batch (1, 3, S, S) -> dict of the graph's four outputs.

    An exported graph (``model_file``) when given, else the HMR model (``model`` or the
    checkpoint), wrapped like the export so every source returns the same outputs.
    """
    import numpy as np

    from src.backends import check_graph_info, graph_predictor, read_graph_info
    fixed = None
    if config.model_file:
        info = read_graph_info(config.model_file)
        check_graph_info(config.model_file, info, config.img_size, config.image_normalization)
        predictor = graph_predictor(config.model_file, info.get("batch"))
        run, fixed = predictor.run_all, predictor.fixed_batch
    else:
        import mindspore as ms
        from HMR.export_net import HMRExportNet
        if model is None:
            if not config.checkpoint_file_path:
                raise UserInputError("give --checkpoint_file_path CKPT or --model FILE.mindir|.onnx")
            from src.builders import build_model
            from src.checkpoint import load_model_weights
            model = build_model(config, smpl)
            load_model_weights(config.checkpoint_file_path, model)
        net = HMRExportNet(model)
        net.set_train(False)

        def run(images):
            return [o.asnumpy() for o in net(ms.Tensor(images))]

    def predict(images):
        padded = images if not fixed else np.concatenate([images] * fixed)[:fixed]
        return dict(zip(("theta", "vertices", "joints3d", "keypoints2d"), (o[:1] for o in run(padded))))
    return predict


def run_image_demo(config, smpl, model=None):
    """Run HMR on ``config.img`` / ``config.img_folder``; write the four files per image.

    ``model``: an HMR Cell to use instead of ``checkpoint_file_path`` (the demo job's).
    Returns {"written": [{kind: path}], "skipped": [unreadable image paths]}.
    """
    import numpy as np
    from tqdm import tqdm

    from src.datasets.sources import normalize_image, read_rgb
    from src.demo_outputs import default_focal_length, write_person
    from src.person_crop import PersonCrop, parse_bbox, read_bbox_file, whole_image_box
    images = list_images(config)
    boxes = read_bbox_file(config.bbox_file) if config.bbox_file else {}
    given = parse_bbox(config.bbox) if config.bbox else None
    predict = build_runner(config, smpl, model)
    os.makedirs(config.out_folder, exist_ok=True)
    written, skipped = [], []
    for path in tqdm(images, desc="demo", unit="image", disable=len(images) < 2 or not config.progress_bar):
        image = read_rgb(path)
        if image is None:
            skipped.append(path)
            continue
        name = os.path.basename(path)
        box = boxes.get(name, boxes.get(None, given))
        if boxes and box is None:
            raise UserInputError(f"--bbox_file {config.bbox_file}: no box for {name}")
        crop = PersonCrop(whole_image_box(*image.shape[:2]) if box is None else box, config.img_size,
                          config.bbox_scale if box is not None else 1.0)
        batch = normalize_image(crop.crop(image), config.image_normalization)[None]
        prediction = {k: v[0] for k, v in predict(np.ascontiguousarray(batch)).items()}
        focal = config.focal_length or default_focal_length(*image.shape[:2])
        files = write_person(config.out_folder, os.path.splitext(name)[0], image, crop, prediction, smpl.faces, focal,
                             {"image": os.path.abspath(path), "synthetic_body_model": bool(smpl.synthetic),
                              "model": config.model_file or config.checkpoint_file_path})
        written.append(files)
    if skipped:
        logger.warning("skipped %d unreadable image(s): %s", len(skipped), ", ".join(skipped))
    logger.info("%d image(s) -> %s", len(written), config.out_folder)
    return {"written": written, "skipped": skipped}
