"""Returns: goods a customer sends back; staff approve, receive and restock
them, and what was paid for what came back is refunded, once."""
