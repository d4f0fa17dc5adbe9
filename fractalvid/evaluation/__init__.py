"""Evaluation: the statistics of a comparison (stats), every fold of a fine-tuning recipe (protocol), the
notebooks' tables and figures (report) and the ablation record (ablations)."""
