"""Keeping an installation's data safe: backup, restore and the checks after them."""
