"""`python -m bench`: the firmware's figures (allocation, cost, accuracy, latency, real data)."""
