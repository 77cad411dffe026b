"""Offline person detection and 2D keypoints for the image demo (BlazePose through LiteRT).

``build_detector(config)`` returns an object with ``detect(image_rgb) -> [Person]``; any other
detector with that method can replace it (``src/inference/detection/person.py``).
"""
