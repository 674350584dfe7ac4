"""The domain of ratify: states, transitions, guards, dates and rules.

Pure Python: nothing here imports SQLAlchemy, FastAPI or does I/O.
"""
