"""Channel adapters: each turns its platform's request into an `Inbound` and back."""
