"""The dashboard of the AfPak trust model.

Run from the repository root::

    streamlit run dashboard/app.py

then open http://localhost:8501. The pages live in ``dashboard/views/``; they call the model
package through ``dashboard.core``.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import ui  # noqa: E402

ICON = Path(__file__).resolve().parent / "content" / "icon.png"  # local: no CDN request

st.set_page_config(page_title="AfPak trust model", page_icon=str(ICON), layout="wide",
                   initial_sidebar_state="expanded")

PAGES = [
    st.Page("views/history.py", title="History", icon=":material/history_edu:", default=True),
    st.Page("views/whatif.py", title="What-if", icon=":material/tune:", url_path="what-if"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("views/sweeps.py", title="Sweeps", icon=":material/scatter_plot:"),
    st.Page("views/classroom.py", title="Classroom", icon=":material/school:"),
    st.Page("views/about.py", title="About", icon=":material/menu_book:"),
    st.Page("views/join.py", title="Join the class", icon=":material/groups:", url_path="join"),
]

# Less empty space above the title: more of each page fits a projector's 1280x800.
st.html("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem;padding-bottom:3rem}"
        "</style>")
page = st.navigation(PAGES)
st.sidebar.caption("Trust, aid and action among the US, Pakistan's army and civilian "
                   "government, the Taliban and India — an agent-based model.")
ui.run_guarded(page)   # errors become messages, never tracebacks
