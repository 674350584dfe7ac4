"""Reminders, e-mail and webhooks: outbox writers, the sweep, senders, delivery and the clock.

Data flows in from the database only: outbox writers turn audit events into
rows in the same transaction, the sweep turns the reminder schedule into
reminder rows, and delivery sends what those rows say; the clock only ticks.
"""
