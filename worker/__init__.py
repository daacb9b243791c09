"""The APScheduler worker process: polling, processing, alerting, maintenance. Thin: orchestration only."""
