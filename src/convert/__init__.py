"""Converters of public PyTorch HMR-architecture checkpoints to this project's checkpoints.

``python -m src.convert --from spin|mmpose|torchvision-resnet50 --input FILE --output FILE.ckpt``
(see ``__main__.py``; mapping rules in ``torch_names.py``, checks and writing in ``convert.py``).
"""
