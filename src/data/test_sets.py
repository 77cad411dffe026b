"""The test sets of the evaluation protocols: each protocol's default file and what it holds
(the table is in ``src/evaluation/protocols.py``), and where a test file is found. Shared by
evaluation and by deployment's input writers, which crop the same files."""
import os

from model_utils.errors import UserInputError

FILE_FOLDERS = ("", "npz", "dataset_extras")

PROTOCOLS = {
    "h36m-p1": {"file": "h36m_valid_protocol1.npz", "joints": 14, "ground_truth": "joints", "group": "action"},
    "h36m-p2": {"file": "h36m_valid_protocol2.npz", "joints": 14, "ground_truth": "joints", "group": "action"},
    "mpi-inf-3dhp": {"file": "mpi_inf_3dhp_test.npz", "joints": 17, "ground_truth": "joints", "group": "sequence",
                     "pck": True},
    "3dpw": {"file": "3dpw_test.npz", "joints": 14, "ground_truth": "smpl", "group": "sequence", "pve": True},
    "synthetic": {"file": "synthetic/synthetic_eval.npz", "joints": 14, "ground_truth": "smpl", "group": None,
                  "pve": True},
    "synthetic-seq": {"file": "synthetic/synthetic_seq_eval.npz", "joints": 14, "ground_truth": "smpl",
                      "group": "sequence", "pve": True, "sequences": True},
}


def get_protocol(name):
    if name not in PROTOCOLS:
        raise UserInputError(f"--dataset must be one of {sorted(PROTOCOLS)}, got {name!r}")
    return dict(PROTOCOLS[name], name=name)


def protocol_file(protocol, data_path, explicit=""):
    """The test file: ``explicit`` (absolute or under data_path) or the protocol's default."""
    if explicit:
        path = explicit if os.path.isabs(explicit) else os.path.join(data_path, explicit)
        if not os.path.isfile(path):
            raise UserInputError(f"{protocol['name']}: test file not found: {path}")
        return path
    tried = [os.path.join(data_path, folder, protocol["file"]) for folder in FILE_FOLDERS]
    for path in tried:
        if os.path.isfile(path):
            return path
    raise UserInputError(f"{protocol['name']}: test file not found; expected {' or '.join(tried)} "
                         "(write it with dataprocess.py or name it with --eval_dataset)")
