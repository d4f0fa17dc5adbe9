"""Real video datasets: list them (listing, official, layout), decode them (decode), prepare them for
training (prepare).

:func:`list_videos` reads the official layouts and split files of UCF101, HMDB51, Diving48, EGTEA Gaze+,
Volleyball, YUP++ and Weizmann, or a "generic" folder of class folders or a CSV, into :class:`VideoRecord` s.
:func:`prepare` decodes them with PyAV (:func:`read_video`; a folder of frame images counts as a video),
resizes the short side, and stores them as colour clips in the chunk store of
:mod:`fractalvid.storage.store` (the format of generated datasets), so ``open_dataset`` reads both. Files that
cannot be read are skipped and listed in ``prepare_report.json`` / ``.csv``; nothing is dropped silently.
"""
from .decode import IMAGE_FOLDER_FPS, VideoError, read_video
from .layout import IMAGE_EXTS, VIDEO_EXTS, VideoRecord
from .listing import DATASET_SPLITS, DATASETS, GENERIC_TEST_FRACTION, SPLITS, hash_split, list_generic, list_videos
from .official import (VOLLEYBALL_ACTIVITIES, VOLLEYBALL_TEST, VOLLEYBALL_TRAIN, VOLLEYBALL_VAL, WEIZMANN_ACTIONS,
                       WEIZMANN_ACTORS, WEIZMANN_TEST_ACTORS)
from .prepare import PREPARED_PRODUCTS, prepare, prepare_dataset

__all__ = ["DATASETS", "DATASET_SPLITS", "GENERIC_TEST_FRACTION", "IMAGE_EXTS", "IMAGE_FOLDER_FPS", "PREPARED_PRODUCTS",
           "SPLITS", "VIDEO_EXTS", "VOLLEYBALL_ACTIVITIES", "VOLLEYBALL_TEST", "VOLLEYBALL_TRAIN", "VOLLEYBALL_VAL",
           "WEIZMANN_ACTIONS", "WEIZMANN_ACTORS", "WEIZMANN_TEST_ACTORS", "VideoError", "VideoRecord", "hash_split",
           "list_generic", "list_videos", "prepare", "prepare_dataset", "read_video"]
