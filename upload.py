import streamlit as st
from ui.session import get_store, require_project
st.title("upload stub")
project = require_project()
get_store()
