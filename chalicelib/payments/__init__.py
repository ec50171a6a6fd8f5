"""Money in and out: card payments through Stripe, its signed webhooks, and
refunds. The top domain package: it may use the orders and the catalog,
which never import it (a cancellation reaches it through the port
orders.service.CancellationRefunds, filled in by runtime.py)."""
