"""Dashboard support: session state and cached resources (the one place that imports Streamlit)."""
