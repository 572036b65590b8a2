"""The sector view (F-ISAC benchmark): anonymised shares of many institutions merged into one sector table."""
