"""What people look at: plotly figures of runs and detections (`figures`), drawn by the
dashboard's pages and embedded in the self-contained HTML reports (`report`)."""
