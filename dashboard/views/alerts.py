import streamlit as st

st.title('alerts')
st.info('Coming with the alerts issue.')
