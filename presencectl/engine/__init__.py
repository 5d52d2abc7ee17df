"""The engine: threads, signals and real clocks around the pure core (the frame path, live sessions, replay and its test servers)."""
