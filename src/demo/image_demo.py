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


def demo_inputs(config):
    """Images and user boxes of a demo run, checked before anything is written.

    Returns (image paths, {image name or None: box} from ``bbox_file``, the ``bbox`` box or None).
    Raises UserInputError for a missing image or folder, and for a given box that lies wholly
    outside its image (naming the image and its size).
    """
    from src.data.images import read_rgb
    from src.inference.person_crop import box_overlaps_image, parse_bbox, read_bbox_file
    images = list_images(config)
    boxes = read_bbox_file(config.bbox_file) if config.bbox_file else {}
    given = parse_bbox(config.bbox) if config.bbox else None
    for path in images if boxes or given is not None else ():
        box = boxes.get(os.path.basename(path), boxes.get(None, given))
        image = read_rgb(path) if box is not None else None
        if image is not None and not box_overlaps_image(box, image.shape[:2]):
            height, width = image.shape[:2]
            raise UserInputError(f"{path}: the box x,y,w,h = {','.join(f'{v:g}' for v in box)} lies wholly outside "
                                 f"the {width}x{height} image")
    return images, boxes, given


def _people(config, image, name, boxes, given, detector):
    """[(box, detected Person or None)] of one image: the given box, the detector's people, or the whole image."""
    from src.inference.person_crop import whole_image_box
    box = boxes.get(name, boxes.get(None, given))
    if boxes and box is None:
        raise UserInputError(f"--bbox_file {config.bbox_file}: no box for {name}")
    if box is not None:
        return [(box, None)]
    people = detector.detect(image) if detector is not None else []
    if config.largest and people:
        people = [max(people, key=lambda p: p.box[2] * p.box[3])]
    if not people:
        logger.info("%s: no person detected, using the whole image", name)
        return [(whole_image_box(*image.shape[:2]), None)]
    return [(p.box, p) for p in people]


def _detector(config):
    from src.inference.detection.factory import build_detector
    try:
        return build_detector(config, "blazepose" if config.detector == "auto" else config.detector)
    except UserInputError as err:
        logger.warning("no person detector (%s): images without a box are cropped whole", err)
        return None


def run_image_demo(config, smpl, model=None, inputs=None):
    """Run HMR on ``config.img`` / ``config.img_folder``; write the four files per image.

    Without ``bbox``/``bbox_file`` every detected person is processed (``largest``: only the
    largest). Single person: ``<stem>.npz/.json/.obj``; several: ``<stem>_p<k>.*``; one
    ``<stem>_overlay.png`` with everyone. ``fit_steps`` > 0 fits SMPL to each person's detected
    keypoints (``src/inference/fitting.py``); ``adapt`` > 0 adapts the network's weights to each detected
    person (Meta-HMR, ``src/inference/adaptation.py``; the checkpoint's network only). ``model``: an HMR Cell to use instead of ``checkpoint_file_path`` (the demo job's);
    ``inputs``: :func:`demo_inputs` when the caller checked them already.
    Returns {"written": [{kind: path}], "skipped": [unreadable image paths]}.
    """
    import numpy as np
    from tqdm import tqdm

    from model_utils.atomic_files import write_json
    from src.builders import crop_size
    from src.data.images import read_rgb
    from src.demo.outputs import overlay_image, write_person, write_png
    from src.inference.adaptation import build_adapter
    from src.inference.crops import build_crop_predictor, crop_inputs, default_focal
    from src.inference.fitting import build_fitter
    from src.inference.loading import load_model
    from src.inference.person_crop import PersonCrop
    images, boxes, given = inputs or demo_inputs(config)
    user_boxes = bool(boxes) or given is not None           # bbox_scale applies to these only
    detector = None if user_boxes else _detector(config)
    if config.adapt and model is None and not config.model_file:
        model = load_model(config, smpl, "give --checkpoint_file_path CKPT or --model FILE.mindir|.onnx")
    fitter, adapter = build_fitter(config, smpl), build_adapter(config, smpl, model)
    predict = build_crop_predictor(config, smpl, model)
    keypoint_set = "cocoplus19" if smpl.has_cocoplus else "lsp14"
    os.makedirs(config.out_folder, exist_ok=True)
    written, skipped = [], []
    for path in tqdm(images, desc="demo", unit="image", disable=len(images) < 2 or not config.progress_bar):
        image = read_rgb(path)
        if image is None:
            skipped.append(path)
            continue
        name = os.path.basename(path)
        stem = os.path.splitext(name)[0]
        people = _people(config, image, name, boxes, given, detector)
        crops = [PersonCrop(box, crop_size(config), config.bbox_scale if user_boxes else 1.0) for box, _ in people]
        focal = default_focal(config, image.shape[:2], crops)
        files, meshes, keypoint_records = {}, [], []
        for k, ((box, person), crop) in enumerate(zip(people, crops)):
            batch, extra_inputs = crop_inputs(config, crop, image, focal,
                                              None if person is None else person.keypoints("j24"))
            prediction = {key: v[0] for key, v in predict(batch, extra_inputs).items()}
            extra = {"image": os.path.abspath(path), "synthetic_body_model": bool(smpl.synthetic),
                     "model": config.model_file or config.checkpoint_file_path,
                     "detection_score": None if person is None else person.score}
            if person is not None:
                keypoints = person.keypoints(keypoint_set)
                keypoint_records.append({"person": k, "box": box.tolist(), "score": person.score,
                                         "keypoints": keypoints.tolist(), "order": keypoint_set})
                if fitter is not None:
                    prediction, extra["refinement"] = _fitted(prediction, crop, keypoints, fitter)
                if adapter is not None:
                    prediction, extra["adaptation"] = _adapted(prediction, crop, keypoints, adapter, batch,
                                                               extra_inputs)
            base = os.path.join(config.out_folder, stem if len(people) == 1 else f"{stem}_p{k}")
            person_files, placed = write_person(base, image, crop, prediction, smpl.faces, focal, extra)
            files.update(person_files if len(people) == 1 else {f"{kind}_p{k}": v for kind, v in person_files.items()})
            meshes.append(placed)
        files["overlay"] = write_png(os.path.join(config.out_folder, f"{stem}_overlay.png"),
                                     overlay_image(image, meshes, smpl.faces, focal))
        if config.keypoints_json:
            files["keypoints"] = write_json(os.path.join(config.out_folder, f"{stem}_keypoints.json"),
                                            {"image": os.path.abspath(path), "people": keypoint_records})
        written.append(files)
    if skipped:
        logger.warning("skipped %d unreadable image(s): %s", len(skipped), ", ".join(skipped))
    logger.info("%d image(s) -> %s", len(written), config.out_folder)
    return {"written": written, "skipped": skipped}


def _fitted(prediction, crop, keypoints, fitter):
    """Fit SMPL from one prediction to image keypoints (K, 3); returns (prediction, report)."""
    import numpy as np

    from HMR.outputs import pack_theta, split_theta
    observed = keypoints.copy()
    observed[:, :2] = crop.to_crop(keypoints[:, :2])
    theta = split_theta(np.asarray(prediction["theta"], np.float32)[None])
    fit = fitter.fit(theta["pose"], theta["betas"], theta["cam"], observed[None])
    vertices, joints, keypoints2d = fitter.posed(fit["pose"], fit["betas"], fit["cam"])
    fitted = {"theta": pack_theta(fit["cam"][0], fit["pose"][0], fit["betas"][0]),
              "vertices": vertices[0], "joints3d": joints[0], "keypoints2d": keypoints2d[0]}
    report = {"steps": fitter.steps, "reprojection_before_px": float(fit["reprojection_before"][0]),
              "reprojection_after_px": float(fit["reprojection_after"][0])}
    return fitted, report


def _adapted(prediction, crop, keypoints, adapter, batch, extra_inputs):
    """Adapt the network to one person's image keypoints (K, 3); returns (prediction, report)."""
    import numpy as np

    from HMR.outputs import GRAPH_OUTPUTS
    from src.inference.fitting import keypoint_pixel_error
    observed = keypoints.copy()
    observed[:, :2] = crop.to_crop(keypoints[:, :2])
    outputs, report = adapter.adapt(batch, observed[None], *extra_inputs)
    adapted = dict(zip(GRAPH_OUTPUTS, (o[0] for o in outputs)))
    before = keypoint_pixel_error(np.asarray(prediction["keypoints2d"])[None], observed[None], adapter.crop_height)
    return adapted, {"steps": int(report["steps"][0]), "keypoint_error_before_px": float(before[0]),
                     "keypoint_error_after_px": float(report["keypoint_error_after"][0])}
