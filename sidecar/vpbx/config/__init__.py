"""Configuration model: PostgreSQL repositories and compilation into Redis documents."""
