"""ALLabel dashboard: the frame around the pages in ``pages/``.

Run with ``streamlit run app.py``. Page set-up and session state happen
once, here; ``st.navigation`` shows Home always and the project pages (Map,
Label, Curve, Predictions, Settings, Entities) while a project is open.
"""

from __future__ import annotations

import streamlit as st

from allabel_core.dashboard import state

st.set_page_config(page_title="ALLabel", page_icon="🏷️", layout="wide")
state.init_state()

pages = [st.Page(state.HOME, title="Home", icon="🏠", default=True)]
if state.current_project() is not None:
    pages += [
        st.Page("pages/1_Map.py", title="Map", icon=":material/map:"),
        st.Page("pages/2_Label.py", title="Label", icon="✏️"),
        st.Page("pages/3_Curve.py", title="Curve", icon=":material/show_chart:"),
        st.Page("pages/4_Predictions.py", title="Predictions", icon=":material/manage_search:"),
        st.Page("pages/5_Settings.py", title="Settings", icon=":material/settings:"),
        st.Page("pages/6_Entities.py", title="Entities", icon=":material/table_view:"),
    ]
st.navigation(pages).run()
