"""The embedded default: a synthetic SMPL-format body model and datasets in the real formats."""
