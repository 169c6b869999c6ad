"""App-side helpers for the Streamlit product: state, sidebar, figures, formatting, access control.

Nothing in `optimizer/` imports this package; pages import both.
"""
