"""Data-parallel training: communication, parallel context and gradient reducers.

``train.py --distributed true`` (set by ``scripts/run_distributed_train.sh``) calls
:func:`init_distributed` before building anything. Every rank builds the same model from
the same seed (identical initial weights), reads its own shard of every dataset
(``TrainSource`` rank/world size), averages the gradients of both the encoder and the
discriminator steps over all ranks (``DistributedGradReducer``, ``gradients_mean``) and
so holds identical weights after every step. Nothing is rescaled: the learning rates in
the config are used as given whatever the number of devices (the effective batch is
``batch_size x devices``; scale ``encoder_lr``/``discriminator_lr`` yourself if you want
the linear rule). The backend follows the device: HCCL on Ascend, NCCL on GPU, MCCL on CPU.
"""
import logging

logger = logging.getLogger(__name__)


def init_distributed(config):
    """Initialise communication when ``config.distributed``.

    Returns:
        (rank, world_size, make_reducer) where ``make_reducer(parameters)`` gives the
        gradient all-reduce (mean) for an optimiser's parameters, or None on one device.
    """
    if not config.distributed:
        return 0, 1, None
    import mindspore as ms
    from mindspore import nn
    from mindspore.communication import get_group_size, get_rank, init
    from mindspore.context import ParallelMode
    init()
    rank, world = get_rank(), get_group_size()
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(parallel_mode=ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=world)
    logger.info("data parallel: rank %d of %d (%s)", rank, world, config.device_target)

    def make_reducer(parameters):
        return nn.DistributedGradReducer(parameters, mean=True, degree=world)
    return rank, world, make_reducer
