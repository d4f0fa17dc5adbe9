"""fractalvid: fractal video pre-training for action recognition."""
__version__ = "0.1.0"
