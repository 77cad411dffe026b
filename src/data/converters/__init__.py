"""Converters from the raw datasets to the uniform npz schema, one module per dataset.

``CONVERTERS`` maps a dataset name (``dataprocess.py --datasets``) to the folders that
mark it as present in ``data_path`` and its ``convert(data_path, output_dir, options)``
function, which returns one summary dict per written file.
"""
from src.data.converters.coco import COCO_FOLDERS, convert_coco
from src.data.converters.h36m import H36M_FOLDERS, convert_h36m
from src.data.converters.lsp import LSP_EXT_FOLDERS, LSP_FOLDERS, convert_lsp, convert_lsp_ext
from src.data.converters.mocap import MOCAP_FOLDERS, convert_mocap
from src.data.converters.mpi_inf_3dhp import MPI_INF_3DHP_FOLDERS, convert_mpi_inf_3dhp
from src.data.converters.mpii import MPII_FOLDERS, convert_mpii
from src.data.converters.spin import check_spin

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
