"""Messages to customers: compose (placeholders, SMS segments), preferences, the outbox, delivery."""
