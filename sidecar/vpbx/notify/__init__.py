"""Telling people about calls: voicemail email and the signed links in it."""
