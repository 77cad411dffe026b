"""MindSpore dataset pipelines over the sample sources."""
import mindspore.dataset as ds

from src.data.sources import EvalSource, TrainSource


def _generator(source, columns, num_workers, sampler):
    return ds.GeneratorDataset(source, column_names=list(columns), sampler=sampler, shuffle=None if sampler else False,
                               num_parallel_workers=max(1, num_workers),
                               python_multiprocessing=num_workers > 1, max_rowsize=None)


def create_train_dataset(source: TrainSource, start_step, num_workers):
    """Batches of ``source`` for steps ``start_step .. source.num_steps - 1``, in order."""
    b = source.batch_size
    sampler = list(range(start_step * b, source.num_steps * b))
    return _generator(source, source.columns, num_workers, sampler).batch(b, drop_remainder=True)


def create_eval_dataset(source: EvalSource, batch_size, num_workers):
    """Batches of ``source`` in file order; the last batch may be smaller."""
    return _generator(source, source.columns, num_workers, None).batch(batch_size, drop_remainder=False)
