"""MPI-INF-3DHP in the earlier port's form (``mpii_3d/annot.h5`` + ``images/``) -> uniform npz.

As in HMR, training uses subjects S1-S7; S8 is held out (written as a validation file)
and test-set sequences (TS1-TS6), when a file holds them, go to a test file. SMPL
parameters are used only when the file has them.
"""
from src.data.converters.annot import image_folder, read_annotations
from src.data.converters.common import Conversion, find_first, finish
from src.data.converters.h36m import split_by_subject

MPI_INF_3DHP_FOLDERS = ("mpii_3d", "mpi_inf_3dhp", "mpi-inf-3dhp", "MPI-INF-3DHP")
TRAIN_SUBJECTS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7")
VALIDATION_SUBJECTS = ("S8",)
TEST_SUBJECTS = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")


def convert_mpi_inf_3dhp(data_path, output_dir, options):
    root = find_first("MPI-INF-3DHP", data_path, MPI_INF_3DHP_FOLDERS, kind="folder")
    annot = read_annotations("MPI-INF-3DHP", root, require_smpl=False)
    outputs = {
        "mpi_inf_3dhp_train.npz": (Conversion("mpi_inf_3dhp_train"), lambda s, c: s in TRAIN_SUBJECTS),
        "mpi_inf_3dhp_val.npz": (Conversion("mpi_inf_3dhp_val"), lambda s, c: s in VALIDATION_SUBJECTS),
        "mpi_inf_3dhp_test.npz": (Conversion("mpi_inf_3dhp_test"), lambda s, c: s in TEST_SUBJECTS),
    }
    split_by_subject(annot, image_folder("MPI-INF-3DHP", root), output_dir, options, outputs)
    return [finish(conv, output_dir, filename) for filename, (conv, _) in outputs.items()]
