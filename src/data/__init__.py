"""Data: the npz schema, crops and augmentation, image reading, sample sources and pipelines,
converters of the raw datasets, the body-model files a run uses, and the synthetic embedded default."""
