"""Converters from the raw datasets to the uniform npz schema, one module per dataset.

``CONVERTERS`` maps a dataset name (``dataprocess.py --datasets``) to the folders that
mark it as present in ``data_path`` and its ``convert(data_path, output_dir, options)``
function, which returns one summary dict per written file.
"""
from src.datasets.preprocess.coco import COCO_FOLDERS, convert_coco
from src.datasets.preprocess.h36m import H36M_FOLDERS, convert_h36m
from src.datasets.preprocess.lsp import LSP_EXT_FOLDERS, LSP_FOLDERS, convert_lsp, convert_lsp_ext
from src.datasets.preprocess.mocap import MOCAP_FOLDERS, convert_mocap
from src.datasets.preprocess.mpi_inf_3dhp import MPI_INF_3DHP_FOLDERS, convert_mpi_inf_3dhp
from src.datasets.preprocess.mpii import MPII_FOLDERS, convert_mpii
from src.datasets.preprocess.spin import check_spin

CONVERTERS = {
    "lsp": (LSP_FOLDERS, convert_lsp),
    "lsp_ext": (LSP_EXT_FOLDERS, convert_lsp_ext),
    "mpii": (MPII_FOLDERS, convert_mpii),
    "coco": (COCO_FOLDERS, convert_coco),
    "h36m": (H36M_FOLDERS, convert_h36m),
    "mpi_inf_3dhp": (MPI_INF_3DHP_FOLDERS, convert_mpi_inf_3dhp),
    "mocap": (MOCAP_FOLDERS + H36M_FOLDERS, convert_mocap),
    "spin": (None, check_spin),
}
