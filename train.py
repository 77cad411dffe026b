"""Train HMR: ``python train.py [--config_path FILE] [--KEY VALUE ...]``.

One device by default; ``--distributed true`` (set by ``scripts/run_distributed_train.sh``)
runs one data-parallel rank (see ``src/training/distributed.py``). ``--train_temporal true`` trains
the temporal refiner instead (``src/training/temporal.py``).
"""
import logging

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("train")


def main(config):
    from src.builders import set_mindspore_context
    from src.training.distributed import init_distributed
    from src.training.loop import run_folder, train
    set_mindspore_context(config)
    if config.train_temporal:
        return _train_refiner(config)
    rank, world, make_reducer = init_distributed(config)
    setup_logging(run_folder(config) if rank == 0 else None, rank=rank)
    summary = train(config, rank, world, make_reducer)
    logger.info("done: %d steps, last checkpoint %s%s", summary["steps"], summary["checkpoint"],
                f", {summary['overflow_steps']} step(s) skipped for loss-scale overflow" if config.loss_scale != "none"
                else "")
    return summary


def _train_refiner(config):
    from src.builders import build_smpl
    from src.training.loop import run_folder
    from src.training.temporal import train_temporal
    setup_logging(run_folder(config))
    summary = train_temporal(config, build_smpl(config))
    logger.info("done: %d refiner steps, last checkpoint %s", summary["steps"], summary["checkpoint"])
    return summary


if __name__ == "__main__":
    run_entry(main)
