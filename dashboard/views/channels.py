import streamlit as st

st.title('channels')
st.info('Coming with the alerts issue.')
