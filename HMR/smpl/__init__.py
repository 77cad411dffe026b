"""The SMPL body model: the layer (``layer.py``: file reading and the Cell) and its maths
(``lbs.py``: linear blend skinning). ``from HMR import SMPL`` is the short form."""
