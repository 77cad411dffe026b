"""Evaluation: protocols and joint sets (``protocols.py``), metrics, the evaluation loop
(``evaluate.py``) and the config-driven runner (``runner.py``)."""
