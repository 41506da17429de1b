"""Call history (R19): events Kamailio emits, the rules that turn them into one
line per call, and the keeper that writes them to PostgreSQL off the SIP path."""
