import streamlit as st

st.title("Sift")
st.write("Turn piles of unstructured business text into trustworthy labels.")
