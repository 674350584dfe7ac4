"""Reminders and e-mail: the outbox writer, the sweep, the senders, delivery and the clock.

Data flows in from the database only: the outbox writer turns audit events
into rows in the same transaction, the sweep turns the reminder schedule
into reminder rows, and delivery sends what those rows say.
"""
