"""The İYS brand API: client (client.py) and synchronisation services (sync.py)."""
