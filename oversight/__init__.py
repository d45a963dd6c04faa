"""The top floor: what reads every other room. The signature audit and its findings, the admin
dashboard, and the demo seeding (docs/architecture.md)."""
