"""Versions policy: the release calendar, LTS lines, release rules and the changelog."""
