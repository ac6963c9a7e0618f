"""Dashboard support: session state and cached resources, and the annotator
component (the one package that imports Streamlit)."""
