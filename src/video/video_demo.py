"""The video demo (``demo.py --video FILE | --frames DIR``): people found, tracked, meshed,
refined over time, and a video back.

Four passes, each resumable:

1. **Frames** (the slow part): decode, detect (``--detector``, ``auto`` = the pedestrian
   detector), run the per-frame model on every person (any model ``demo.py`` runs: checkpoint,
   CLIFF, converted weights, MINDIR/ONNX). Each frame's result is written atomically to
   ``<out>/frames/NNNNNN.npz`` (an undecodable frame as a marker, counted); a restarted run
   reads what is there and goes on from the first missing frame.
2. **Tracking**: norfair over the stored boxes (``src/video/tracking.py``); cheap, so redone.
3. **Refining**: each track through the temporal refiner (``--temporal_model`` ONNX/MINDIR or
   ``--temporal_checkpoint``), or the One-Euro filter without one (said in the log and in
   ``tracks.json``); full-frame translations smoothed with the same filter.
4. **Output**: ``overlay.mp4`` (H.264; meshes over the frames, a colour per track, each track's
   box and number), ``tracks.json`` (per track: frames, boxes, scores, its npz) and
   ``track_NNN.npz`` per track: ``frames``, ``boxes``, ``scores``, ``pose`` (refined, 72),
   ``pose_per_frame``, ``betas``, ``cam``, ``translation`` (full-frame camera, metres),
   ``keypoints2d`` (the model's, image pixels), ``keypoints3d`` (17 H36M joints of the refined
   mesh, camera frame), ``detected_keypoints`` (H36M 2D from the detector), and ``vertices``
   with ``--video_vertices true``.
"""
import logging
import os

import numpy as np

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

TRACK_COLOURS = ((230, 120, 90), (90, 170, 230), (120, 210, 110), (230, 200, 80), (200, 110, 220), (90, 220, 210),
                 (240, 150, 180), (170, 140, 100), (150, 150, 240), (210, 230, 140))
MIN_TRACK_FRAMES = 3
RUN_FILE = "run.json"


def _run_key(config, frames):
    """What the stored per-frame results depend on (a restart must match it)."""
    return {"input": os.path.abspath(frames.path), "model": config.model_file or config.checkpoint_file_path,
            "detector": [config.detector, config.pedestrian_upscale, config.pedestrian_min_margin,
                         config.detection_min_score], "max_frames": frames.total, "img_size": config.img_size,
            "img_width": config.img_width, "architecture": config.architecture}


def _check_run(folder, key):
    from model_utils.atomic_files import read_json, write_json
    path = os.path.join(folder, RUN_FILE)
    saved = read_json(path)
    if saved and saved != key:
        changed = sorted(k for k in key if saved.get(k) != key[k])
        raise UserInputError(f"{folder} holds the frames of another run (different {', '.join(changed)}): choose "
                             "another --out_folder or delete it")
    write_json(path, key)


def _frame_path(folder, index):
    return os.path.join(folder, "frames", f"{index:06d}.npz")


def _save_frame(path, record):
    from model_utils.atomic_files import atomic_write
    with atomic_write(path) as handle:
        np.savez(handle, **record)


def _people_of_frame(config, image, detector, predict, timer):
    """Detections and per-frame model outputs of one frame, as arrays (P, ...)."""
    from HMR.outputs import THETA_SIZE, split_theta
    from src.builders import crop_size
    from src.inference.crops import crop_inputs, default_focal
    from src.inference.person_crop import PersonCrop
    with timer("detection"):
        people = detector.detect(image)
    focal = default_focal(config, image.shape[:2])
    rows = {k: [] for k in ("boxes", "scores", "detected_keypoints", "theta", "translation", "keypoints2d")}
    for person in people:
        crop = PersonCrop(person.box, crop_size(config))
        batch, extra_inputs = crop_inputs(config, crop, image, focal, person.keypoints("j24"))
        with timer("per-frame model"):
            out = {k: v[0] for k, v in predict(batch, extra_inputs).items()}
        theta = np.asarray(out["theta"], np.float64)
        rows["boxes"].append(person.box)
        rows["scores"].append(person.score)
        rows["detected_keypoints"].append(person.h36m17())
        rows["theta"].append(theta)
        rows["translation"].append(crop.camera_translation(split_theta(theta)["cam"], image.shape[:2], focal))
        rows["keypoints2d"].append(crop.to_image(np.asarray(out["keypoints2d"], np.float64)))
    shapes = {"boxes": (4,), "scores": (), "detected_keypoints": (17, 3), "theta": (THETA_SIZE,), "translation": (3,),
              "keypoints2d": (None,)}
    record = {k: np.asarray(v, np.float32) if v else np.zeros((0,) + tuple(s or 0 for s in shapes[k]), np.float32)
              for k, v in rows.items()}
    record.update(focal=np.float32(focal), size=np.asarray(image.shape[:2], np.int32))
    return record


def _frame_pass(config, smpl, frames, folder, model, timer):
    """Pass 1; returns {index: record} of every frame, and the unreadable frames' indices."""
    from tqdm import tqdm

    from src.inference.crops import build_crop_predictor
    from src.inference.detection.factory import build_detector
    detector = predict = None
    records, unreadable = {}, []
    for index, image in tqdm(timer.iterate(frames, "decoding"), total=frames.total or None, desc="frames",
                             unit="frame", disable=not config.progress_bar):
        path = _frame_path(folder, index)
        if os.path.isfile(path):
            with np.load(path) as stored:
                records[index] = {k: stored[k] for k in stored.files}
        else:
            if image is None:
                records[index] = {"unreadable": np.int32(1)}
            else:
                if detector is None:
                    with timer("loading"):
                        detector = build_detector(config, "pedestrians" if config.detector == "auto"
                                                  else config.detector)
                        predict = build_crop_predictor(config, smpl, model)
                records[index] = _people_of_frame(config, image, detector, predict, timer)
            _save_frame(path, records[index])
        if "unreadable" in records[index]:
            unreadable.append(index)
    return records, unreadable


def _tracks(records):
    """Pass 2: {track id: [(frame, detection index)]} of the tracks at least MIN_TRACK_FRAMES long."""
    from src.video.tracking import PersonTracker
    tracker, tracks = PersonTracker(), {}
    for index in sorted(records):
        boxes = records[index].get("boxes", np.zeros((0, 4)))
        for frame, detection, track in tracker.update(index, boxes):
            tracks.setdefault(track, []).append((frame, detection))
    return {t: sorted(members) for t, members in tracks.items() if len(members) >= MIN_TRACK_FRAMES}


def _smooth_tracks(config, smpl, records, tracks, timer):
    """Pass 3: per track its arrays (smoothed pose, per-frame pose, betas, translation, ...)."""
    from HMR.outputs import split_theta
    from src.inference.one_euro import one_euro
    from src.inference.temporal import build_track_smoother
    with timer("loading"):
        smoother = build_track_smoother(config, smpl)
    out = {}
    for number, track in enumerate(sorted(tracks)):
        members = tracks[track]
        take = lambda key: np.stack([records[f][key][d] for f, d in members])  # noqa: E731
        theta = split_theta(take("theta"))
        with timer("refiner"):
            height, width = records[members[0][0]]["size"]
            pose, betas = smoother.smooth(take("detected_keypoints"), theta["pose"], theta["betas"],
                                          frame_size=(float(width), float(height)))
            translation = one_euro(take("translation"), config.one_euro_min_cutoff, config.one_euro_beta)
        out[number] = {"track_id": track, "frames": np.array([f for f, _ in members], np.int32),
                       "boxes": take("boxes"), "scores": take("scores"), "pose": pose,
                       "pose_per_frame": theta["pose"], "betas": betas, "cam": theta["cam"],
                       "translation": translation.astype(np.float32), "keypoints2d": take("keypoints2d"),
                       "detected_keypoints": take("detected_keypoints")}
    return out, smoother.kind


def _meshes(smpl, refined):
    """{track: (vertices (T, V, 3) in the camera frame, 17 H36M joints (T, 17, 3))} of the refined tracks,
    through the body model in fixed-size chunks of all tracks' frames together (one compiled shape)."""
    numbers = list(refined)
    if not numbers:
        return {}
    lengths = [len(refined[n]["pose"]) for n in numbers]
    vertices, _ = smpl.run_numpy(np.concatenate([refined[n]["betas"] for n in numbers]),
                                 np.concatenate([refined[n]["pose"] for n in numbers]))
    vertices += np.concatenate([refined[n]["translation"] for n in numbers])[:, None]
    joints = np.einsum("kv,tvc->tkc", smpl.regressor("h36m").asnumpy(), vertices).astype(np.float32) \
        if "h36m" in smpl.regressor_names else np.zeros((len(vertices), 17, 3), np.float32)
    bounds = np.cumsum([0] + lengths)
    return {n: (vertices[a:b], joints[a:b]) for n, a, b in zip(numbers, bounds[:-1], bounds[1:])}


def _write_tracks(config, smpl, refined, kind, folder, frames, unreadable):
    from model_utils.atomic_files import atomic_write, write_json
    meshes, listing = {}, []
    track_meshes = _meshes(smpl, refined)
    for number, track in refined.items():
        vertices, joints = track_meshes[number]
        meshes[number] = dict(zip(track["frames"].tolist(), vertices))
        arrays = {k: v for k, v in track.items() if k != "track_id"}
        arrays["keypoints3d"] = joints
        if config.video_vertices:
            arrays["vertices"] = vertices
        name = f"track_{number:03d}.npz"
        with atomic_write(os.path.join(folder, name)) as handle:
            np.savez(handle, **arrays)
        listing.append({"track": number, "norfair_id": int(track["track_id"]), "npz": name,
                        "frames": track["frames"].tolist(), "boxes": np.round(track["boxes"], 2).tolist(),
                        "scores": np.round(track["scores"], 4).tolist()})
    write_json(os.path.join(folder, "tracks.json"), {
        "input": os.path.abspath(frames.path), "frames": frames.total, "unreadable_frames": unreadable,
        "temporal": kind, "synthetic_body_model": bool(smpl.synthetic), "tracks": listing})
    return meshes


def _render(config, smpl, records, refined, meshes, frames, folder, timer):
    """Pass 4: the overlay video, frame by frame (frames decoded again)."""
    import cv2
    from tqdm import tqdm

    from src.render.rasterizer import render_mesh
    from src.video.writer import Mp4Writer
    present = {}
    for number, track in refined.items():
        for k, frame in enumerate(track["frames"].tolist()):
            present.setdefault(frame, []).append((number, track["boxes"][k]))
    writer = None
    path = os.path.join(folder, "overlay.mp4")
    last = None
    for index, image in tqdm(timer.iterate(frames, "decoding"), total=frames.total or None, desc="render",
                             unit="frame", disable=not config.progress_bar):
        if image is None:
            image = last if last is not None else None
            if image is None:
                continue
        if writer is None:
            writer = Mp4Writer(path, frames.fps, (image.shape[1], image.shape[0]))
        with timer("rendering"):
            canvas = image.copy()
            height, width = image.shape[:2]
            focal = float(records[index]["focal"]) if "focal" in records[index] else float(max(height, width))
            principal = ((width - 1) / 2.0, (height - 1) / 2.0)
            people = sorted(present.get(index, []), key=lambda p: -float(meshes[p[0]][index][:, 2].mean()))
            for number, box in people:
                colour = TRACK_COLOURS[number % len(TRACK_COLOURS)]
                render_mesh(canvas, meshes[number][index], smpl.faces, focal, principal, colour)
                x, y, w, h = (int(round(v)) for v in box)
                cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, 1)
                cv2.putText(canvas, str(number), (x, max(y - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
        with timer("encoding"):
            writer.write(canvas)
        last = image
    if writer is None:
        raise UserInputError(f"{frames.path}: no frame could be decoded")
    writer.close()
    return path, writer.frames


def run_video_demo(config, smpl, model=None):
    """Run the four passes; returns {"overlay", "tracks", "frames", "unreadable", "temporal",
    "num_tracks", "seconds" (wall time per stage, :class:`StageTimer`), "total_seconds"}."""
    import time

    from src.video.frames import open_frames
    from src.video.stage_timer import StageTimer
    start, timer = time.perf_counter(), StageTimer()
    frames = open_frames(config)
    folder = config.out_folder
    os.makedirs(os.path.join(folder, "frames"), exist_ok=True)
    _check_run(folder, _run_key(config, frames))
    if model is None and not config.model_file:
        from src.inference.loading import load_model
        model = load_model(config, smpl, "give --checkpoint_file_path CKPT or --model FILE.mindir|.onnx")
    records, unreadable = _frame_pass(config, smpl, frames, folder, model, timer)
    if unreadable:
        logger.warning("%d frame(s) could not be decoded and were skipped: %s", len(unreadable), unreadable[:20])
    with timer("tracking"):
        tracks = _tracks(records)
    refined, kind = _smooth_tracks(config, smpl, records, tracks, timer)
    with timer("track files"):
        meshes = _write_tracks(config, smpl, refined, kind, folder, frames, unreadable)
    overlay, written = _render(config, smpl, records, refined, meshes, frames, folder, timer)
    total = time.perf_counter() - start
    logger.info("%d frames, %d tracks (%s) -> %s; %.2f frames/s; ms per frame: %s", len(records), len(refined), kind,
                folder, len(records) / total,
                ", ".join(f"{k} {v:.1f}" for k, v in timer.per_item(len(records)).items()))
    return {"overlay": overlay, "tracks": os.path.join(folder, "tracks.json"), "frames": written,
            "unreadable": unreadable, "temporal": kind, "num_tracks": len(refined), "seconds": dict(timer.seconds),
            "total_seconds": total}
