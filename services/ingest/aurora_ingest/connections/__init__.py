"""Provider connections: OAuth connect and callback, encrypted tokens, refresh, disconnect."""
