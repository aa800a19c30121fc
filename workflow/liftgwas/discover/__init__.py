"""Calibrated discoveries (issue 11): knockoffs, null traits, and the discoveries table."""
