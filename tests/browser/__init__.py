"""The panel in a real JupyterLab, driven by headless Chromium."""
