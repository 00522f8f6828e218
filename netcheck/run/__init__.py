"""Run: the runner (deadlines, scheduling by contention), assessment orchestration,
capability detection and the demo's loopback peers."""
