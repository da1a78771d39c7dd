"""Sift: the router. Page config, navigation and the shared sidebar; pages live in pages/."""

import streamlit as st

from ui.session import render_sidebar

st.set_page_config(page_title="Sift", page_icon=":material/label:", layout="wide")

PAGES = [
    st.Page("pages/projects.py", title="Projects", icon=":material/folder:", default=True),
    st.Page("pages/taxonomy.py", title="Taxonomy", icon=":material/sell:"),
    st.Page("pages/upload.py", title="Upload", icon=":material/upload_file:"),
    st.Page("pages/classify.py", title="Classify", icon=":material/bolt:"),
    st.Page("pages/review.py", title="Review", icon=":material/fact_check:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
    st.Page("pages/monitor.py", title="Monitor", icon=":material/monitoring:"),
]

page = st.navigation(PAGES)
render_sidebar()
page.run()
