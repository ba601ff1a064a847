"""Webhooks: subscriptions and their history (`store`) and signed, retried delivery (`delivery`).

The admin routes that manage them are `mockloop.mock.admin.webhook_routes`.
"""
