"""The Streamlit dashboard of the model: ``streamlit run dashboard/app.py``.

The pages (``dashboard/views/``) only lay out widgets and figures. They call the model package
through ``dashboard.core`` (cached computation on hashable inputs), draw with
``dashboard.charts`` (data in, plotly figure out) and read their prose from
``dashboard/content/``.
"""
