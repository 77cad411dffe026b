"""Config -> the person detector (the one place that knows which detector is used)."""
import os

DETECTORS = ("blazepose", "pedestrians")


def build_detector(config, kind="blazepose"):
    """A detector with ``detect(image_rgb) -> [Person]``: ``blazepose`` (BlazePose through LiteRT,
    people near the camera) or ``pedestrians`` (OpenCV's HOG confirmed by BlazePose's landmark
    model, people 60-200 px tall in street footage)."""
    from model_utils.errors import UserInputError
    from src.inference.detection.blazepose import BlazePoseDetector
    if kind not in DETECTORS:
        raise UserInputError(f"--detector must be one of {DETECTORS}, got {kind!r}")
    models = config.detector_models_dir
    if not os.path.isabs(models):
        from model_utils.config import PROJECT_ROOT
        models = os.path.join(PROJECT_ROOT, models)
    blazepose = BlazePoseDetector(models, min_score=config.detection_min_score)
    if kind == "blazepose":
        return blazepose
    from src.inference.detection.pedestrians import PedestrianDetector
    return PedestrianDetector(blazepose, upscale=config.pedestrian_upscale, min_margin=config.pedestrian_min_margin)
