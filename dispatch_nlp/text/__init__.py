"""Text preparation every path shares: normalization, personal-data masking, word segmentation."""
