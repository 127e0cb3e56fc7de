"""Customer operations, one module each: create, update, delete, contacts, addresses, tags, status."""
