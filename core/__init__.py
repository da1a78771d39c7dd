"""Sift core: pure Python (never imports streamlit).

Data flows one way: files -> Documents (core.ingest) -> engine(techniques)
-> Predictions -> store -> Reviews -> evaluate / learn / export.
"""

__version__ = "0.1.0"
