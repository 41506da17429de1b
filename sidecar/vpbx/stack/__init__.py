"""Bring the whole vpbx stack up and down as local processes (dev and test profiles)."""
