"""Config -> the person detector (the one place that knows which detector is used)."""
import os


def build_detector(config):
    """A detector with ``detect(image_rgb) -> [Person]`` (BlazePose through LiteRT)."""
    from src.demo.detection.blazepose import BlazePoseDetector
    models = config.detector_models_dir
    if not os.path.isabs(models):
        from model_utils.config import PROJECT_ROOT
        models = os.path.join(PROJECT_ROOT, models)
    return BlazePoseDetector(models, min_score=config.detection_min_score)
