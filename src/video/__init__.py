"""Video: temporal smoothing of per-frame estimates, and the video demo."""
