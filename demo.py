"""HMR on your images: ``python demo.py --img FILE | --img_folder DIR (--checkpoint_file_path CKPT |
--model FILE.mindir|.onnx) [--out_folder DIR] [--bbox x,y,w,h | --bbox_file JSON] [--bbox_scale S]``.

Per image: ``<stem>.npz`` (pose 72, betas 10, cam 3, vertices, joints, 2D keypoints, camera
translation), ``<stem>.json``, ``<stem>.obj`` (mesh in the full-image camera frame) and
``<stem>_overlay.png`` (mesh over the image | side view). Without a box the whole image is the
crop. Unreadable images are reported and skipped.

``python demo.py --video FILE | --frames DIR [--max_frames N] (--checkpoint_file_path CKPT | --model
FILE) [--temporal_model refiner.onnx]``: every person tracked through the video, meshed, refined
over time; ``overlay.mp4``, ``tracks.json`` and ``track_NNN.npz`` (``src/video/video_demo.py``).
"""
import logging

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("demo")


def main(config):
    from src.builders import build_smpl, set_mindspore_context
    from src.demo.image_demo import demo_inputs, run_image_demo
    if config.video or config.frames:
        from src.video.video_demo import run_video_demo
        setup_logging(config.out_folder)
        set_mindspore_context(config)
        return run_video_demo(config, build_smpl(config))
    inputs = demo_inputs(config)                 # bad images or boxes fail before anything is written
    setup_logging(config.out_folder)
    set_mindspore_context(config)
    return run_image_demo(config, build_smpl(config), inputs=inputs)


if __name__ == "__main__":
    run_entry(main)
