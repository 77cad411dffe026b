"""The image demo: person detection, crops and the full-image camera, refinement, outputs."""
