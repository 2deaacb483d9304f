"""Minters against real peers."""
