"""The budget curve experiment and its manifest."""
