import streamlit as st

st.title('rules')
st.info('Coming with the alerts issue.')
