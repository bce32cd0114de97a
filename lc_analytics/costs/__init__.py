"""Costs: price books, one pricing engine, FOCUS rows and cost analyses."""
