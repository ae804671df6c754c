"""What HeatClust keeps on disk: where (`settings`), how files are written (`atomic`), the
trained runs and their results (`run_store`) and the table of finished runs (`catalog`)."""
