"""SMPL forward: this project (MindSpore graph and pynative) vs the smplx package (PyTorch eager).

``bash scripts/run_bench.sh smpl``. Same synthetic model file, same inputs, interleaved rounds.
"""
import os
import platform
import tempfile

from model_utils.device_adapter import configure_cpu_isa


def main(batches=(1, 64), rounds=5, repeat=20):
    configure_cpu_isa()
    import mindspore as ms
    import numpy as np
    import smplx
    import torch

    from HMR import SMPL
    from src.data.synthetic.write_model import write_body_model
    from tests.benchmarks.timing import interleaved, print_table

    folder = tempfile.mkdtemp(prefix="bench_smpl_")
    path = write_body_model(folder)
    reference = smplx.SMPL(path)
    rows = []
    for batch in batches:
        rng = np.random.default_rng(batch)
        betas = rng.normal(size=(batch, 10)).astype(np.float32)
        pose = rng.normal(0, 0.5, size=(batch, 72)).astype(np.float32)
        tb, tp = torch.from_numpy(betas), torch.from_numpy(pose)
        mb, mp = ms.Tensor(betas), ms.Tensor(pose)
        candidates = {}
        for mode_name, mode in (("graph", ms.GRAPH_MODE), ("pynative", ms.PYNATIVE_MODE)):
            ms.set_context(mode=mode)
            smpl = SMPL(path)

            def ours(smpl=smpl, mode=mode):
                ms.set_context(mode=mode)
                vertices, _ = smpl(mb, mp)
                return vertices.asnumpy()
            ours()
            candidates[f"mindspore_{mode_name}"] = ours

        def ref():
            with torch.no_grad():
                return reference(betas=tb, global_orient=tp[:, :3], body_pose=tp[:, 3:]).vertices.numpy()
        candidates["smplx_torch"] = ref
        times = interleaved(candidates, rounds, repeat)
        rows.append((batch, f"{times['mindspore_graph']:.2f}", f"{times['mindspore_pynative']:.2f}",
                     f"{times['smplx_torch']:.2f}", f"{times['mindspore_graph'] / times['smplx_torch']:.2f}"))
    print_table(f"SMPL forward, ms per call (median), {platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
                ("batch", "this project, graph", "this project, pynative", "smplx (torch eager)",
                 "graph / smplx"), rows)


if __name__ == "__main__":
    main()
