import streamlit as st
from ui.session import get_store, require_project
st.title("classify stub")
project = require_project()
get_store()
