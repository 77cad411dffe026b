"""Convert raw datasets to the uniform npz schema.

``python dataprocess.py --data_path HMR_DATA --output_path DIR [--datasets "[lsp, coco]"]``

With no ``--datasets``, every dataset whose folder exists in ``data_path`` is converted;
a named dataset whose folder is missing is an error. One summary line per written file
(samples kept / dropped and why) and ``DIR/datasets.json`` with the same numbers.
"""
import logging
import os

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("dataprocess")


def main(config):
    from model_utils.errors import UserInputError
    from src.data.converters import CONVERTERS
    from src.data.converters.spin import find_npz_files
    from model_utils.atomic_files import write_json
    setup_logging(None)
    unknown = [d for d in config.datasets if d not in CONVERTERS]
    if unknown:
        raise UserInputError(f"--datasets: unknown name(s) {unknown}; expected some of {sorted(CONVERTERS)}")
    if not os.path.isdir(config.data_path):
        raise UserInputError(f"--data_path: folder not found: {config.data_path}")
    names = list(config.datasets)
    if not names:
        for name, (folders, _) in CONVERTERS.items():
            present = find_npz_files(config.data_path) if folders is None else \
                [f for f in folders if os.path.isdir(os.path.join(config.data_path, f))]
            (names.append(name) if present else logger.info("%s: not found in %s, skipped", name, config.data_path))
        if not names:
            raise UserInputError(f"--data_path: no known dataset folder in {config.data_path}; expected some of "
                                 + ", ".join(f[0] for f, _ in CONVERTERS.values() if f))
    options = {"bbox_margin": config.bbox_margin, "coco_min_keypoints": config.coco_min_keypoints,
               "coco_min_box_side": config.coco_min_box_side}
    os.makedirs(config.output_path, exist_ok=True)
    summaries = []
    for name in names:
        summaries += CONVERTERS[name][1](config.data_path, config.output_path, options)
    write_json(os.path.join(config.output_path, "datasets.json"), {"data_path": config.data_path, "files": summaries})
    return summaries


if __name__ == "__main__":
    run_entry(main)
