"""Web edges of the outages app, one module per audience: public, console (dispatch),
field (technicians) and supervisor. Each view makes one service or selector call."""
