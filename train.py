"""Train HMR on one device: ``python train.py [--config_path FILE] [--KEY VALUE ...]``."""
import logging

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("train")


def main(config):
    from src.builders import set_mindspore_context
    from src.trainer import run_folder, train
    setup_logging(run_folder(config))
    set_mindspore_context(config)
    summary = train(config)
    logger.info("done: %d steps, last checkpoint %s", summary["steps"], summary["checkpoint"])
    return summary


if __name__ == "__main__":
    run_entry(main)
