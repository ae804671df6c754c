"""What people look at: plotly figures of runs and detections (`figures`), of sweeps
(`sweep_figures`) and of the explorer (`explore_figures`), drawn by the dashboard's pages and
embedded in the self-contained HTML reports (`report`)."""
