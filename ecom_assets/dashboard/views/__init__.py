"""The dashboard's pages; each module is a page script that `app.py` runs through navigation."""
