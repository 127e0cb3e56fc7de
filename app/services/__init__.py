"""The domain: plain functions over a session. No request, no Flask globals.

Only the service boundary commits; helpers add and flush.
"""
