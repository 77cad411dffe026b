"""The video demo's stages on real street footage (``bash scripts/run_bench.sh video``): the first
100 frames of vtest.avi (768x576, 10 fps; fetched by ``scripts/setup.sh --test``), ms per frame,
one run of ``run_video_demo``: decoding (both passes), detection (HOG + BlazePose landmarks), the
per-frame model (HMR ResNet-50, 224 px, checkpoint in graph mode, every person), tracking, the
temporal refiner (config sizes, ONNX through onnxruntime, amortised over the frames), rendering,
H.264 encoding; end-to-end frames per second against the video's own rate. Then the seed's chain on the
same frames: HybrIK HRNet-W48 (256 px, its recipe's config) exported to ONNX with the seed's interface, per
person per frame through onnxruntime, and EHGFormer at its released size exported to ONNX, per track window
(both with random weights: the time is the same)."""
import glob
import os
import platform
import sys
import tempfile

import numpy as np

from model_utils.device_adapter import configure_cpu_isa

FRAMES = 100
STAGES = (("decoding", "decoding (both passes)"), ("detection", "detection"), ("per-frame model", "per-frame model"),
          ("tracking", "tracking"), ("refiner", "temporal refiner (amortised)"), ("track files", "track files (SMPL)"),
          ("rendering", "rendering"), ("encoding", "H.264 encoding"), ("loading", "loading models (once)"))


def _rows(result, folder, video):
    from src.video.frames import VideoFrames
    people = sum(len(np.load(path)["boxes"]) for path in glob.glob(os.path.join(folder, "frames", "*.npz")))
    count, seconds = result["frames"], result["seconds"]
    rows = [(label, f"{1e3 * seconds.get(stage, 0.0) / count:.1f}") for stage, label in STAGES]
    rows.append((f"end to end ({people / count:.1f} people per frame, {result['num_tracks']} tracks)",
                 f"{1e3 * result['total_seconds'] / count:.1f} ms = {count / result['total_seconds']:.2f} frames/s"))
    rows.append(("reference: the video's own rate", f"{1e3 / VideoFrames(video).fps:.1f} ms = "
                 f"{VideoFrames(video).fps:.2f} frames/s"))
    return rows


def _chain_config(config, work, smpl):
    """The seed's chain: HybrIK HRNet-W48 and EHGFormer, both exported to ONNX (random weights)."""
    from model_utils.config import PROJECT_ROOT, load_config
    from src.builders import build_model
    from src.deployment.export import export_model
    from src.deployment.export_refiner import export_refiner
    from src.inference.temporal import build_temporal_refiner
    recipe = os.path.join(PROJECT_ROOT, "src", "training", "recipes", "hybrik_hrnet48.yaml")
    hybrik = load_config(["--config_path", recipe, "--data_path", config.data_path, "--file_format", "ONNX",
                          "--export_batch_size", "0"])
    model_file = export_model(hybrik, build_model(hybrik, smpl), os.path.join(work, "hybrik"))
    ehg = config.replace(temporal_refiner="ehgformer")
    refiner_file = export_refiner(ehg, build_temporal_refiner(ehg, smpl), os.path.join(work, "ehgformer"))
    return hybrik.replace(video=config.video, max_frames=config.max_frames, progress_bar=False,
                          out_folder=os.path.join(work, "chain"), model_file=model_file, temporal_refiner="ehgformer",
                          temporal_model=refiner_file)


def main(frames=FRAMES, chain=True):
    configure_cpu_isa()
    from model_utils.config import PROJECT_ROOT, load_config
    from src.builders import build_model, build_smpl, set_mindspore_context
    from src.data.synthetic.write_model import write_body_model
    from src.deployment.export_refiner import export_refiner
    from src.inference.temporal import build_temporal_refiner
    from src.video.video_demo import run_video_demo
    from tests.benchmarks.timing import print_table

    video = os.path.join(PROJECT_ROOT, "models", "media", "vtest.avi")
    if not os.path.isfile(video):
        sys.exit(f"error: {video} missing: bash scripts/setup.sh --test fetches it")
    work = tempfile.mkdtemp(prefix="bench_video_")
    write_body_model(work)
    config = load_config(["--data_path", work, "--video", video, "--max_frames", str(frames), "--out_folder",
                          os.path.join(work, "out"), "--progress_bar", "false", "--file_format", "ONNX"])
    set_mindspore_context(config)
    smpl = build_smpl(config)
    onnx_file = export_refiner(config, build_temporal_refiner(config, smpl), os.path.join(work, "refiner.onnx"))
    result = run_video_demo(config.replace(temporal_model=onnx_file), smpl, build_model(config, smpl))
    title = f"of vtest.avi (768x576), ms per frame, one run, {platform.machine()}, {os.cpu_count()} cores"
    print_table(f"Video demo on the first {result['frames']} frames {title}", ("stage", "ms per frame"),
                _rows(result, config.out_folder, video))
    if chain:
        chained = _chain_config(config, work, smpl)
        result = run_video_demo(chained, smpl)
        print_table(f"The seed's chain, HybrIK HRNet-W48 ONNX -> EHGFormer ONNX, on the first {result['frames']} "
                    f"frames {title}", ("stage", "ms per frame"), _rows(result, chained.out_folder, video))


if __name__ == "__main__":
    main()
